import Foundation
import JobCore

/// What a text-to-image model folder says about itself, read one way for every tool: `zipar-submit` names
/// jobs with it (`ModelSpec.load`) and `zipar-worker` claims jobs with it, so the two can never disagree
/// on a model's name. The Hugging Face config.json states neither name nor grid; the layout.json beside it does.
public struct TextModelIdentity: Sendable, Equatable {
    /// Layout.json `name`, else the folder's name.
    public var name: String
    /// The image side in tokens (square grids only).
    public var grid: Int
    /// An end-of-row token after each image row (Emu3, Chameleon / Lumina-mGPT); Janus has none.
    public var endOfRowLayout = true
    /// config.json `max_position_embeddings` of an end-of-row bundle: jobs may then ask for any `size=HxW`
    /// whose image fits it (the meta text names the grid). Nil for Janus, whose one grid is `num_patches`.
    public var maxPositions: Int? = nil

    /// The limits jobs for this model are validated against.
    public var limits: ModelLimits { .textModel(grid: grid, endOfRowLayout: endOfRowLayout, maxPositions: maxPositions) }

    /// `model_type` values of the text-to-image families (what `TextModelConfig` parses).
    public static let modelTypes: Set<String> = ["chameleon", "Emu3", "emu3", "emu3_text_model", "janus"]

    /// Nil for a LlamaGen folder (`ModelKind.of`: no `model_type`); throws when it names a family
    /// zipar does not serve, or when the layout.json is missing or states no square grid.
    public static func load(directory: String) throws -> TextModelIdentity? {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let (top, configPath) = try ModelKind.configObject(directory: directory)
        guard ModelKind(config: top) == .text, let type = top["model_type"] else { return nil }
        guard let family = type as? String, modelTypes.contains(family) else {
            throw ModelError.badConfig(field: "model_type", reason: "\(type) in \(configPath) is not a text-to-image family zipar serves "
                                       + "(\(modelTypes.sorted().joined(separator: ", ")))")
        }
        // Janus checkpoints state their grid in vq_config.num_patches and carry no layout.json: named by folder.
        if family == "janus" {
            let vq = top["vq_config"] as? [String: Any]
            guard let grid = (vq?["num_patches"] as? NSNumber)?.intValue, grid >= 1, grid <= JobParameters.maxSize else {
                throw ModelError.badConfig(field: "vq_config.num_patches", reason: "\(configPath) needs the image side in tokens there")
            }
            return TextModelIdentity(name: dir.lastPathComponent, grid: grid, endOfRowLayout: false)
        }
        let layoutPath = dir.appendingPathComponent("layout.json").path
        guard let layoutData = FileManager.default.contents(atPath: layoutPath) else {
            throw ModelError.badConfig(field: "layout.json", reason: "missing beside \(configPath): a text model's directory states its "
                                       + "name and image grid there ({\"name\": ..., \"grid\": {\"rows\": 16, \"cols\": 16}})")
        }
        guard let layout = (try? JSONSerialization.jsonObject(with: layoutData)) as? [String: Any] else {
            throw ModelError.badConfig(field: "(file)", reason: "\(layoutPath) is not a JSON object")
        }
        let grid = layout["grid"] as? [String: Any]
        guard let rows = (grid?["rows"] as? NSNumber)?.intValue, let cols = (grid?["cols"] as? NSNumber)?.intValue,
              rows >= 1, rows <= JobParameters.maxSize else {
            throw ModelError.badConfig(field: "grid", reason: "\(layoutPath) needs \"grid\": {\"rows\": R, \"cols\": C} with R in 1...\(JobParameters.maxSize)")
        }
        // The native grid is what a job without `size` draws, and `grid` names one side: a non-square native grid
        // would need a second side here. A job asks for a non-square grid with size=HxW instead.
        guard rows == cols else {
            throw ModelError.badConfig(field: "grid", reason: "\(rows)x\(cols) in \(layoutPath): the native grid must be square "
                                       + "(jobs draw other grids with size=HxW)")
        }
        let name = (layout["name"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? dir.lastPathComponent
        // The nested Emu3 conversion keeps the decoder's fields under text_config (TextModelConfig+Parsing).
        // Without the field only the native grid is offered here; the worker's loader requires it anyway.
        let decoder = top["text_config"] as? [String: Any] ?? top
        let positions = ((decoder["max_position_embeddings"] as? NSNumber)?.intValue).flatMap { $0 >= 1 ? $0 : nil }
        return TextModelIdentity(name: name, grid: rows, maxPositions: positions)
    }
}
