import Foundation
import ImageModels
import Kernels
import Model

/// Loads a model folder of either kind (`ImageModel.load`), probes it and returns its executor and what the
/// worker logs about it. - storage: nil = auto (f16 when the checkpoint's matrices are F16).
public func loadModelExecutor(directory: String, storage: WeightStorage? = nil, batch: Int,
                              maxQueries: Int) throws -> (executor: ModelExecutor, details: [String: String]) {
    let model = try ImageModel.load(directory: directory, storage: storage)
    try model.probe()
    return (ModelExecutor(model: model, batch: batch, maxQueries: maxQueries), model.details)
}
