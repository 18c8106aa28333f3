package sqlstore

// OfExposure is ofExposure, for the query plan test.
var OfExposure = ofExposure

// DeferredIndexes lists the deferred indexes' names and definitions.
func DeferredIndexes() map[string]string {
	m := map[string]string{}
	for _, ix := range deferredIndexes {
		m[ix.name] = "CREATE INDEX " + ix.name + " ON " + ix.def
	}
	return m
}

// SetProbeCap sets the count under which s's listings read a filter
// first (1: never, so that every page walks its order).
func SetProbeCap(s *DB, n int) { s.probeCap = n }
