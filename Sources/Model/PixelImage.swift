import Kernels

/// An 8-bit image, interleaved (gray: 1 channel, RGB: 3).
public struct PixelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]     // [height][width][channels]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels)
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A decoder produced a NaN or an infinity: broken weights (or a kernel bug), never a picture.
    public struct NonFinitePixels: Error, CustomStringConvertible {
        public let index: Int
        public var description: String { "the VQ decoder produced NaN or infinity (value \(index)): the model is broken" }
    }

    /// From decoder output `[channels][height][width]` in [-1, 1], with LlamaGen's conversion
    /// `clamp(127.5 x + 128, 0, 255)` truncated to an integer. A non-finite value throws instead of
    /// trapping in the conversion.
    public init(decoderOutput x: [Float], channels: Int, size: Int) throws {
        try self.init(decoderOutput: x, channels: channels, height: size, width: size)
    }

    /// From decoder output `[channels][height][width]` (a non-square grid's image), converted as above.
    public init(decoderOutput x: [Float], channels: Int, height: Int, width: Int) throws {
        let n = height * width
        precondition(x.count == channels * n)
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw NonFinitePixels(index: bad) }
        var px = [UInt8](repeating: 0, count: channels * n)
        for c in 0..<channels {
            for p in 0..<n {
                let v = min(max(127.5 * x[c * n + p] + 128, 0), 255)
                px[p * channels + c] = UInt8(v)
            }
        }
        self.init(width: width, height: height, channels: channels, pixels: px)
    }

    public func pngData() throws -> [UInt8] {
        try PNGCodec.encode(pixels: pixels, width: width, height: height, channels: channels)
    }

    public static func fromPNG(_ bytes: [UInt8], channels: Int) throws -> PixelImage {
        let d = try PNGCodec.decode(bytes, channels: channels)
        return PixelImage(width: d.width, height: d.height, channels: channels, pixels: d.pixels)
    }

    /// Scaled up by an integer factor (nearest), for pictures people look at.
    public func scaled(by k: Int) -> PixelImage {
        guard k > 1 else { return self }
        var px = [UInt8](repeating: 0, count: width * k * height * k * channels)
        for y in 0..<(height * k) {
            for x in 0..<(width * k) {
                for c in 0..<channels {
                    px[(y * width * k + x) * channels + c] = pixels[((y / k) * width + x / k) * channels + c]
                }
            }
        }
        return PixelImage(width: width * k, height: height * k, channels: channels, pixels: px)
    }

    /// The same picture with 3 channels.
    public var rgb: PixelImage {
        guard channels == 1 else { return self }
        return PixelImage(width: width, height: height, channels: 3, pixels: pixels.flatMap { [$0, $0, $0] })
    }
}
