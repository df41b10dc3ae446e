// Names renamed in 0.2, kept for one release.

extension SQLiteConfiguration {
    /// The old name of ``readBatchSize``.
    @available(*, deprecated, renamed: "readBatchSize")
    public var loadBatchSize: Int {
        get { readBatchSize }
        set { readBatchSize = newValue }
    }
}
