#if MySQL
// Names renamed in 0.2, kept for one release.

extension MySQLConfiguration {
    /// The connect timeout in whole seconds: the old form of ``connectTimeout``.
    @available(*, deprecated, renamed: "connectTimeout")
    public var connectTimeoutSeconds: Int {
        get { Int(connectTimeout.components.seconds) }
        set { connectTimeout = .seconds(newValue) }
    }

    /// The old name of ``readBatchSize``.
    @available(*, deprecated, renamed: "readBatchSize")
    public var loadBatchSize: Int {
        get { readBatchSize }
        set { readBatchSize = newValue }
    }
}
#endif
