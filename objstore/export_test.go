package objstore

// AddrMod is pageOffset, for the external tests.
var AddrMod = pageOffset
