import Foundation
import Testing
@testable import Kernels
import Model
@testable import TextModel

/// The text families' VQ decoders (Emu3, Chameleon / Lumina-mGPT) keep parity with their references under
/// every convolution algorithm the planner may choose, each forced in turn (see ModelTests'
/// VQAlgorithmParityTests for why forcing the process-wide mode is safe).
@Suite(.serialized) struct TextVQAlgorithmParityTests {
    @Test(arguments: ConvAlgorithm.allCases)
    func bothDecodersMatchTheirReferences(_ a: ConvAlgorithm) throws {
        let planner = ConvPlanner.shared, saved = planner.mode
        planner.mode = .forced(a)
        defer { planner.mode = saved }
        let emu3 = try Emu3VQDecoder.load(directory: VQCompare.folder(Emu3VQParityTests.fixture))
        for grid in try VQReferenceGrid.all(in: Emu3VQParityTests.fixture) {
            let err = VQCompare.maxAbsError(try emu3.decode(tokens: grid.tokens, rows: grid.rows, columns: grid.columns), grid.pixels)
            #expect(err <= Emu3VQParityTests.pixelTolerance, "emu3 \(a) grid \(grid.name): max |pixel error| \(err)")
        }
        let chameleon = try ChameleonVQDecoder.load(directory: VQCompare.folder(ChameleonVQParityTests.fixture))
        for grid in try VQReferenceGrid.all(in: ChameleonVQParityTests.fixture) {
            let err = VQCompare.maxAbsError(try chameleon.decode(tokens: grid.tokens, rows: grid.rows, columns: grid.columns),
                                            grid.pixels)
            #expect(err <= ChameleonVQParityTests.pixelTolerance, "chameleon \(a) grid \(grid.name): max |pixel error| \(err)")
        }
    }
}
