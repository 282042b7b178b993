package fastlane

// builtTricks is what a Front starts with: every trick on, unless the
// binary was built with one of the tags that turn one off, for
// bench/tricks.sh to measure what each gains (tricks_*.go).
var builtTricks Tricks
