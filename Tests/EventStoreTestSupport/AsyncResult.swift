extension Result where Failure == any Error {
    /// The outcome of `body`: its value, or what it threw (so that cleanup can run before it is thrown).
    public init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
