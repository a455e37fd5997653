import Foundation
import Testing
@testable import Kernels
@testable import Model

/// Every convolution algorithm the planner may choose keeps the VQ decoders' parity with PyTorch: each is
/// forced in turn (`ConvPlanner.shared.mode`, what `ZK_CONV_ALGO` sets) through the same fixtures and
/// bounds as the tuned run. The mode is process-wide: a suite running beside this one meanwhile runs the
/// forced algorithm too, which every test must tolerate anyway (any of them may be the tuned choice).
@Suite(.serialized) struct VQAlgorithmParityTests {
    static func forcing<T>(_ a: ConvAlgorithm, _ body: () throws -> T) rethrows -> T {
        let planner = ConvPlanner.shared, saved = planner.mode
        planner.mode = .forced(a)
        defer { planner.mode = saved }
        return try body()
    }

    @Test(arguments: ConvAlgorithm.allCases)
    func vq16LayoutMatchesPyTorch(_ a: ConvAlgorithm) throws {
        let r = try Self.forcing(a) { try VQ16ParityTests().check() }
        print("VQ-16 layout, \(a) [\(KernelRuntime.instructionSet)]: max |pixel error| = \(r.err), uint8 mismatches = \(r.mismatched)")
        // F(4x4) rounds several times worse than the others (its transforms' constants reach 8): twice the bound.
        let bound: Float = a == .winograd4x4 ? 1e-4 : 5e-5
        #expect(r.err <= bound, "\(a): max |pixel error| \(r.err)")
        #expect(r.mismatched <= 24, "\(a): \(r.mismatched) uint8 pixels differ")
    }

    @Test(arguments: ConvAlgorithm.allCases)
    func bundledDecoderMatches(_ a: ConvAlgorithm) throws {
        let r = try Self.forcing(a) { try VQParityTests().check(model: Fixtures.bundledModel, fixture: "fashion16-vq.safetensors") }
        print("bundled VQ, \(a) [\(KernelRuntime.instructionSet)]: max |pixel error| = \(r.err), uint8 mismatches = \(r.u8Mismatch)")
    }
}
