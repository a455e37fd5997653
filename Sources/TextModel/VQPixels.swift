import Foundation
import Model

/// The two families' own conversions of decoder output `[channels][height][width]` (about [-1, 1]) to 8-bit
/// interleaved pixels, float for float as their reference code does them, so PNGs match byte for byte.
public enum VQPixels {
    /// Chameleon's image tokenizer: `clamp(x, -1, 1)`, `(x + 1) / 2`, `* 255` in f32, truncated to uint8.
    public static func chameleon(_ x: [Float], channels: Int, height: Int, width: Int) -> PixelImage {
        interleave(x, channels: channels, height: height, width: width) { _, v in
            let unit = (min(max(v, -1), 1) + 1) / 2
            return byte(unit * 255)
        }
    }

    /// Emu3's image processor `postprocess`: un-normalise per channel in f32 as `(x - (-mean/std)) / (1/std)`,
    /// rescale by `1 / rescale_factor` through f64, clip to [0, 255], truncate to uint8.
    public static func emu3(_ x: [Float], channels: Int, height: Int, width: Int,
                            normalization n: Emu3PixelNormalization = .init()) -> PixelImage {
        precondition(n.mean.count == channels && n.std.count == channels, "mean/std need one value per channel")
        // The processor builds these two constants in f64 and stores them as f32, as here.
        let shift = zip(n.mean, n.std).map { Float(-$0 / $1) }
        let divisor = n.std.map { Float(1 / $0) }
        let scale = 1 / n.rescaleFactor
        return interleave(x, channels: channels, height: height, width: width) { c, v in
            let unit = (v - shift[c]) / divisor[c]
            let value = Float(Double(unit) * scale)
            return byte(min(max(value, 0), 255))
        }
    }

    /// Truncation toward zero, as numpy's cast to uint8; NaN (a broken decode, never a real pixel) becomes 0
    /// instead of trapping.
    static func byte(_ v: Float) -> UInt8 {
        v.isNaN ? 0 : UInt8(min(max(v, 0), 255))
    }

    /// `[channels][height][width]` floats -> interleaved `[height][width][channels]` bytes via `convert(channel, value)`.
    static func interleave(_ x: [Float], channels: Int, height: Int, width: Int,
                           _ convert: (Int, Float) -> UInt8) -> PixelImage {
        let n = height * width
        precondition(x.count == channels * n, "expected \(channels * n) values, got \(x.count)")
        var px = [UInt8](repeating: 0, count: channels * n)
        for c in 0..<channels {
            for p in 0..<n { px[p * channels + c] = convert(c, x[c * n + p]) }
        }
        return PixelImage(width: width, height: height, channels: channels, pixels: px)
    }
}

/// The image-processor settings Emu3's post-processing undoes (`preprocessor_config.json`: `image_mean`,
/// `image_std`, `rescale_factor`). The default, mean = std = 0.5, maps [-1, 1] to [0, 255] (the
/// normalisation Emu3's vision tokenizer was trained with); transformers' bare processor defaults to CLIP's.
public struct Emu3PixelNormalization: Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]
    public var rescaleFactor: Double

    public init(mean: [Double] = [0.5, 0.5, 0.5], std: [Double] = [0.5, 0.5, 0.5], rescaleFactor: Double = 1.0 / 255) {
        self.mean = mean; self.std = std; self.rescaleFactor = rescaleFactor
    }

    /// Reads `image_mean`, `image_std` and `rescale_factor` from a preprocessor_config.json (absent: defaults).
    public static func load(path: String) throws -> Emu3PixelNormalization {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badConfig(field: path, reason: "not a JSON object")
        }
        var n = Emu3PixelNormalization()
        func perChannel(_ key: String) throws -> [Double]? {
            switch object[key] {
            case nil, is NSNull: return nil
            case let v as Double: return [v, v, v]
            case let v as [Double] where v.count == 3: return v
            default: throw ModelError.badConfig(field: key, reason: "expected a number or 3 numbers")
            }
        }
        if let m = try perChannel("image_mean") { n.mean = m }
        if let s = try perChannel("image_std") { n.std = s }
        if let r = object["rescale_factor"] as? Double { n.rescaleFactor = r }
        return n
    }
}

extension Emu3VQDecoder {
    /// Decodes a token grid and converts it as Emu3's image processor does.
    public func image(tokens: [Int], rows: Int, columns: Int,
                      normalization: Emu3PixelNormalization = .init()) throws -> PixelImage {
        let x = try decode(tokens: tokens, rows: rows, columns: columns)
        return VQPixels.emu3(x, channels: config.outChannels, height: rows * upsampling, width: columns * upsampling,
                             normalization: normalization)
    }
}

extension ChameleonVQDecoder {
    /// Decodes a token grid and converts it as Chameleon's image tokenizer does.
    public func image(tokens: [Int], rows: Int, columns: Int) throws -> PixelImage {
        let x = try decode(tokens: tokens, rows: rows, columns: columns)
        return VQPixels.chameleon(x, channels: config.outChannels, height: rows * upsampling, width: columns * upsampling)
    }
}
