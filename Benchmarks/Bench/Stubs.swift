enum ReloadComparison { static func run(_ o: Options, _ r: Report) async throws { r.skip("reload", "not written yet") } }
enum ColdSync { static func run(_ o: Options, _ r: Report) async throws { r.skip("coldsync", "not written yet") } }
enum Cost { static func run(_ o: Options, _ r: Report) async throws { r.skip("cost", "not written yet") } }
