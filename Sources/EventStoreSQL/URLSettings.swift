import EventStore

/// The `?key=value&…` settings of a store's URL, read one by one: each read names its setting and checks its
/// value, and ``finish()`` rejects a setting that no read asked for, naming the known ones.
package struct URLSettings {
    private var values: [String: String] = [:]
    private var order: [String] = []
    private var known: [String] = []
    private let url: String

    /// - Parameter url: what the settings belong to, for messages ("postgres URL").
    /// - Throws: `invalidArgument` for a setting given twice.
    package init(_ items: [(name: String, value: String)], of url: String) throws(EventStoreError) {
        self.url = url
        for (name, value) in items {
            guard values.updateValue(value, forKey: name) == nil else {
                throw .invalidArgument("the \(url) setting \"\(name)\" is given twice")
            }
            order.append(name)
        }
    }

    /// The setting's text, `nil` when it is absent.
    package mutating func text(_ name: String) -> String? {
        known.append(name)
        return values.removeValue(forKey: name)
    }

    /// A whole number of at least `minimum` (`unit` names what it counts, for the message).
    package mutating func integer(_ name: String, atLeast minimum: Int, unit: String? = nil) throws(EventStoreError) -> Int? {
        guard let text = text(name) else { return nil }
        guard let value = Int(text), value >= minimum else {
            throw .invalidArgument(
                "\(name) must be a whole number\(unit.map { " of \($0)" } ?? ""), \(minimum) or more, not \"\(text)\"")
        }
        return value
    }

    /// One of a set of named values, written in lower case.
    package mutating func choice<Value: RawRepresentable & CaseIterable>(_ name: String, of type: Value.Type)
        throws(EventStoreError) -> Value? where Value.RawValue == String
    {
        guard let text = text(name) else { return nil }
        guard let value = Value.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            let names = Value.allCases.map { $0.rawValue.lowercased() }.joined(separator: ", ")
            throw .invalidArgument("\(name) must be one of \(names), not \"\(text)\"")
        }
        return value
    }

    /// - Throws: `invalidArgument` for a setting no read asked for.
    package func finish() throws(EventStoreError) {
        if let unknown = order.first(where: { values[$0] != nil }) {
            throw .invalidArgument(
                "unknown \(url) setting \"\(unknown)\" (known: \(known.joined(separator: ", ")))")
        }
    }
}
