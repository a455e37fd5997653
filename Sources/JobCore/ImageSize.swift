import Foundation

/// A job's requested image grid in tokens: `rows` x `columns`. Written `N` for a square grid (what jobs
/// stored before non-square grids existed, so old rows, files and exports read back unchanged) or `HxW`
/// (rows first, as Emu3's "H*W" meta text and image shapes are written).
public struct ImageSize: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var rows: Int
    public var columns: Int

    public init(rows: Int, columns: Int) { self.rows = rows; self.columns = columns }
    /// A square grid `side` x `side`.
    public init(side: Int) { self.init(rows: side, columns: side) }
    public init(integerLiteral side: Int) { self.init(side: side) }

    public var isSquare: Bool { rows == columns }
    public var tokens: Int { rows * columns }
    /// `N` when square, else `HxW`: the prompt-file form, the job column's text and the JSON value.
    public var description: String { isSquare ? "\(rows)" : "\(rows)x\(columns)" }

    /// Parses `N` or `HxW` (also `H*W` and `X` in capitals); throws naming the `size` field.
    public init(parsing text: String) throws(ParameterError) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: "*", omittingEmptySubsequences: false) }
        let numbers = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        switch numbers.count {
        case 1 where numbers[0] != nil: self.init(side: numbers[0]!)
        case 2 where numbers[0] != nil && numbers[1] != nil: self.init(rows: numbers[0]!, columns: numbers[1]!)
        default:
            throw ParameterError(field: "size", message: "'\(text)' is not a size: N (an N x N grid) or HxW (H rows of W tokens), e.g. 16 or 12x20")
        }
    }
}
