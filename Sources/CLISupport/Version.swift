/// The release every executable reports with `--version` (bumped with each release; the schema
/// version is separate: `zipar-admin migrate` prints it).
public let ziparVersion = "0.4.0"
