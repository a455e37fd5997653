import Testing
@testable import Model

@Suite struct PNGTests {
    @Test(arguments: [1, 3]) func roundTrip(channels: Int) throws {
        let w = 7, h = 5
        let pixels = (0..<(w * h * channels)).map { UInt8(($0 * 37) % 256) }
        let image = PixelImage(width: w, height: h, channels: channels, pixels: pixels)
        let png = try image.pngData()
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try PixelImage.fromPNG(png, channels: channels) == image)
    }

    @Test func pixelConventionMatchesLlamaGen() throws {
        // clamp(127.5 x + 128, 0, 255), truncated: -1 -> 0 (0.5 truncates), 0 -> 128, 1 -> 255, beyond clamps.
        let img = try PixelImage(decoderOutput: [-1, 0, 1, 2, -3, 0.5, -0.5, 0.999], channels: 2, size: 2)
        #expect(img.pixels == [0, 0, 128, 191, 255, 64, 255, 255])
    }

    @Test func garbageIsAnError() {
        #expect(throws: (any Error).self) { _ = try PixelImage.fromPNG([1, 2, 3, 4], channels: 1) }
    }
}
