import JobCore
import Model

extension GPTModel {
    /// The limits jobs for this model are validated against.
    public var limits: ModelLimits {
        .classModel(grid: config.grid, numClasses: config.numClasses, supportsGuidance: supportsGuidance)
    }
}
