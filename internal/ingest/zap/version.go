package zap

// ParserVersion is the version of this package's parser, recorded on
// every scan it begins (model.Scan.ParserVersion) and shown by the formats
// registry. It changes whenever a change of the parser changes what it
// makes of the same input (a finding's identity, its fields, the assets
// it names), so that such a change can be explained and migrated.
const ParserVersion = "1"
