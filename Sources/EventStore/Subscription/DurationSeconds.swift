extension Duration {
    /// The duration in seconds, as metrics, benchmarks and log lines give it.
    package var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
