extension AdminState {
    /// Derives the effective state from `srv_admin_state` bits (0x01 forced maint, 0x02 inherited maint,
    /// 0x20 maint from DNS, 0x08 forced drain, 0x10 inherited drain). 0x04 alone is the `disabled` config marker
    /// that stays set after `state ready`, so it does not mean maintenance.
    public init(adminBits bits: Int) {
        if bits & (0x01 | 0x02 | 0x20) != 0 {
            self = .maint
        } else if bits & (0x08 | 0x10) != 0 {
            self = .drain
        } else {
            self = .ready
        }
    }
}
