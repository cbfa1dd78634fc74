/// What became of one `SlotAction` in a batch: the action itself, HAProxy's answer, and its classification.
public struct ActionResult: Sendable, Hashable {
    /// How HAProxy took the action.
    public enum Status: Sendable, Hashable {
        /// HAProxy accepted it.
        case applied
        /// HAProxy refused it; the reason is HAProxy's first answer line (or ours for a line never sent).
        case refused(String)
        /// The connection reached a worker an HAProxy reload replaced ("Proxy is disabled."): nothing was wrong
        /// with the action; reconnect and send it again.
        case staleWorker
    }

    public var action: SlotAction
    /// HAProxy's answer, without the trailing prompt and blank line.
    public var answer: String
    public var status: Status

    public init(action: SlotAction, answer: String, status: Status) {
        self.action = action
        self.answer = answer
        self.status = status
    }

    public var succeeded: Bool { status == .applied }

    /// The reason for a refusal, else nil.
    public var refusal: String? {
        if case .refused(let reason) = status { return reason }
        return nil
    }
}
