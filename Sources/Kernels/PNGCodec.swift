import CPNG
import Foundation

/// 8-bit gray or RGB PNG encoding and decoding through libpng's simplified API.
public enum PNGCodec {
    public enum Failure: Error, CustomStringConvertible {
        case libpng(String)
        public var description: String {
            switch self { case .libpng(let m): return "png: \(m)" }
        }
    }

    /// Encodes `pixels` (row-major, `channels` = 1 gray or 3 RGB, interleaved) to PNG bytes.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        precondition(channels == 1 || channels == 3, "PNG output is gray (1) or RGB (3)")
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        var size: png_alloc_size_t = 0
        let stride = Int32(width * channels)
        // First call measures, second call writes.
        let ok1 = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard ok1 != 0 else { throw Failure.libpng(message(image)) }
        var out = [UInt8](repeating: 0, count: Int(size))
        let ok2 = out.withUnsafeMutableBytes { o in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard ok2 != 0 else { throw Failure.libpng(message(image)) }
        return Array(out.prefix(Int(size)))
    }

    /// Decodes PNG bytes to 8-bit pixels with `channels` (1 gray, 3 RGB) per pixel.
    public static func decode(_ bytes: [UInt8], channels: Int) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard ok != 0 else { throw Failure.libpng(message(image)) }
        image.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let w = Int(image.width), h = Int(image.height)
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        let ok2 = bytes.withUnsafeBytes { _ in
            pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * channels), nil) }
        }
        guard ok2 != 0 else { throw Failure.libpng(message(image)) }
        return (pixels, w, h)
    }

    private static func message(_ image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
