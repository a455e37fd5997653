// The configs and errors of a model folder live in ModelFolder (Foundation only, so zipar-submit can read a
// folder without linking inference code); every user of Model sees them as Model's own.
@_exported import ModelFolder
