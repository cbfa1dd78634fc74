/// Prints rows as left-aligned columns two spaces apart, as `status` shows slot tables.
enum TextTable {
    static func lines(_ rows: [[String]]) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let widths = (0..<columns).map { col in rows.map { $0.indices.contains(col) ? $0[col].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: max(0, widths[i] - cell.count)) }
            }
            return line
        }
    }
}
