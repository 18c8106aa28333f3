package sqlstore

// OfExposure is ofExposure, for the query plan test.
var OfExposure = ofExposure
