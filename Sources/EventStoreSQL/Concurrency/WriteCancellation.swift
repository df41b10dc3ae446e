/// What every SQL backend does with a write whose caller is cancelled while it runs.
package enum WriteCancellation {
    /// How long the write may still take to finish (never past its query deadline): 2 seconds. Within it
    /// the caller learns the write's real outcome (a COMMIT in flight normally answers in milliseconds);
    /// past it the write's connection is cut: a write cut before its COMMIT was sent has done nothing
    /// (`CancellationError`), one cut during its COMMIT has an unknown outcome (`backend`).
    package static let grace: Duration = .seconds(2)
}
