/// How a convolution layer is computed; `ConvPlanner` picks one per layer shape by measuring them.
public enum ConvAlgorithm: String, Sendable, Codable, CaseIterable {
    /// The direct kernel (`zk_conv2d`): a register tile of output channels x positions, no copies.
    case direct
    /// Winograd F(2x2, 3x3): 2.25x fewer multiplies, rounding like the direct kernel.
    case winograd2x2
    /// Winograd F(4x4, 3x3): 4x fewer multiplies, rounding ~10x worse (still far inside 1e-4).
    case winograd4x4
    /// One OpenBLAS sgemm per kernel tap on the shifted padded input (no im2col copy), then a copy-out.
    case gemm

    /// The algorithms that can compute a `kernel x kernel` layer.
    public static func candidates(kernel: Int) -> [ConvAlgorithm] {
        kernel == 3 ? allCases : [.direct, .gemm]
    }
}

/// A layer as the planner sees it: channels, kernel and the spatial size of one call.
public struct ConvShape: Hashable, Sendable, CustomStringConvertible {
    public let inChannels: Int, outChannels: Int, kernel: Int, height: Int, width: Int

    public init(inChannels: Int, outChannels: Int, kernel: Int, height: Int, width: Int) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.height = height; self.width = width
    }

    /// `3x3 512->256 @64x64`
    public var description: String { "\(kernel)x\(kernel) \(inChannels)->\(outChannels) @\(height)x\(width)" }

    /// Multiply-add FLOPs of one call.
    public var flops: Double { 2.0 * Double(inChannels * outChannels * kernel * kernel * height * width) }
}
