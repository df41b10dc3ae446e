@_spi(Backend) import EventStore

/// The SQL expressions for one metadata member inside a ``SQLMatcherDialect/member(of:key:_:)`` scope.
package struct SQLJSONMember: Sendable {
    /// True when the member is a JSON string.
    package var isText: SQLQuery
    /// True when the member is a JSON number.
    package var isNumber: SQLQuery
    /// True when the member is `true`.
    package var isTrue: SQLQuery
    /// True when the member is `false`.
    package var isFalse: SQLQuery
    /// The member's string value, comparing by bytes.
    package var text: SQLQuery
    /// The member's numeric value.
    package var number: SQLQuery
    /// Where ``number`` is a double (MySQL and MariaDB): true when the member is an integer, and its value
    /// as a 64-bit integer, so that integers compare exactly beyond 2^53, as in memory.
    package var integer: (isInteger: SQLQuery, value: SQLQuery)?

    package init(
        isText: SQLQuery, isNumber: SQLQuery, isTrue: SQLQuery, isFalse: SQLQuery, text: SQLQuery, number: SQLQuery,
        integer: (isInteger: SQLQuery, value: SQLQuery)? = nil
    ) {
        self.isText = isText
        self.isNumber = isNumber
        self.isTrue = isTrue
        self.isFalse = isFalse
        self.text = text
        self.number = number
        self.integer = integer
    }

    /// `member op bound` for an integer bound: exact against a stored integer, as a number against a
    /// stored double.
    func compared(_ op: String, toInteger bound: Int) -> SQLQuery {
        guard let integer else {
            return "(\(isNumber) AND \(number) \(unsafeSQL: op) \(bind: .int(Int64(bound))))"
        }
        return """
            ((\(integer.isInteger) AND \(integer.value) \(unsafeSQL: op) \(bind: .int(Int64(bound)))) \
            OR (\(isNumber) AND NOT \(integer.isInteger) AND \(number) \(unsafeSQL: op) \(bind: .double(Double(bound)))))
            """
    }
}

/// What differs between databases when a matcher becomes SQL. The semantics are the compiler's, the
/// same for every dialect, and those of `MatcherEvaluator`.
package protocol SQLMatcherDialect: Sendable {
    /// A predicate that is true when the JSON object `json` has the member `key` (bound, never spliced) and
    /// `predicate` holds for it; false when the key is missing.
    func member(of json: SQLQuery, key: String, _ predicate: (SQLJSONMember) -> SQLQuery) -> SQLQuery
    /// True when the regular expression `pattern` (bound, written for ``regexFlavor``) finds a match in
    /// `text`. By default `(text OPERATOR pattern)` with ``regexOperator``.
    func regex(_ text: SQLQuery, pattern: String) -> SQLQuery
    /// The infix regular-expression operator (`REGEXP` by default).
    var regexOperator: String { get }
    /// The engine behind ``regexOperator`` (PCRE2 by default), that patterns are written out for.
    var regexFlavor: PortableRegex.Flavor { get }
    /// The text of the `uuid` column, compared as bytes.
    var uuidText: SQLQuery { get }
    /// The text of the `message_name` column, compared as bytes.
    var messageNameText: SQLQuery { get }
    /// The `created_at` column as `yyyy-MM-ddTHH:mm:ss.ffffff` text, compared as bytes.
    var createdAtText: SQLQuery { get }
    /// The database's clock now less `seconds` (an integer expression), comparable with `created_at`.
    func now(minusSeconds seconds: SQLQuery) -> SQLQuery
}

extension SQLMatcherDialect {
    package var messageNameText: SQLQuery { "e.message_name" }
    package var regexOperator: String { "REGEXP" }
    package var regexFlavor: PortableRegex.Flavor { .pcre }

    package func regex(_ text: SQLQuery, pattern: String) -> SQLQuery {
        "(\(text) \(unsafeSQL: regexOperator) \(bind: Self.written(pattern, for: regexFlavor)))"
    }

    /// `pattern` written for `flavor`; the store checked it before, so one that does not parse matches
    /// nothing rather than failing here.
    package static func written(_ pattern: String, for flavor: PortableRegex.Flavor) -> String {
        (try? PortableRegex(pattern).translated(for: flavor)) ?? "x^"
    }

    /// The text of a message property column, or the integer for `position`.
    package func property(_ property: MetadataMatcher.MessageProperty) -> SQLQuery {
        switch property {
        case .uuid: return uuidText
        case .messageName: return messageNameText
        case .createdAt: return createdAtText
        case .position: return "e.position"
        }
    }

    /// The matcher as one SQL predicate (`1 = 1` when it has no conditions).
    /// - Parameter metadata: the JSON column the metadata conditions test.
    package func predicate(for matcher: MetadataMatcher, metadata: SQLQuery) -> SQLQuery {
        guard !matcher.isEmpty else { return "1 = 1" }
        let parts = matcher.conditions.map { condition -> SQLQuery in
            switch condition.field {
            case let .metadata(key):
                return member(of: metadata, key: key) { member in memberPredicate(member, condition) }
            case let .property(property):
                return propertyPredicate(property, condition)
            }
        }
        return "(" + SQLQuery.joined(parts, separator: " AND ") + ")"
    }

    private func memberPredicate(_ member: SQLJSONMember, _ condition: MetadataMatcher.Condition) -> SQLQuery {
        let values = condition.value.values
        func equal(_ value: MetadataValue) -> SQLQuery {
            switch value {
            case let .string(s): return "(\(member.isText) AND \(member.text) = \(bind: s))"
            case let .int(i): return member.compared("=", toInteger: i)
            case let .double(d): return "(\(member.isNumber) AND \(member.number) = \(bind: .double(d)))"
            case let .bool(b): return b ? member.isTrue : member.isFalse
            }
        }
        func ordered(_ op: String, _ value: MetadataValue) -> SQLQuery {
            switch value {
            case let .string(s): return "(\(member.isText) AND \(member.text) \(unsafeSQL: op) \(bind: s))"
            case let .int(i): return member.compared(op, toInteger: i)
            case let .double(d): return "(\(member.isNumber) AND \(member.number) \(unsafeSQL: op) \(bind: .double(d)))"
            case .bool: return "1 = 0"  // rejected by the matcher's validation; never true
            }
        }
        func anyEqual(_ values: [MetadataValue]) -> SQLQuery {
            values.isEmpty ? "1 = 0" : "(" + SQLQuery.joined(values.map(equal), separator: " OR ") + ")"
        }
        switch condition.op {
        case .equals: return equal(values[0])
        case .notEquals: return "NOT \(equal(values[0]))"
        case .greaterThan: return ordered(">", values[0])
        case .greaterThanOrEquals: return ordered(">=", values[0])
        case .lessThan: return ordered("<", values[0])
        case .lessThanOrEquals: return ordered("<=", values[0])
        case .in: return anyEqual(values)
        case .notIn: return "NOT \(anyEqual(values))"
        case .regex:
            guard case let .string(pattern) = values[0] else { return "1 = 0" }
            return "(\(member.isText) AND \(regex(member.text, pattern: pattern)))"
        }
    }

    private func propertyPredicate(_ property: MetadataMatcher.MessageProperty, _ condition: MetadataMatcher.Condition)
        -> SQLQuery
    {
        let column = self.property(property)
        let values = condition.value.values.map(SQLValue.init)
        func compare(_ op: String, _ value: SQLValue) -> SQLQuery { "\(column) \(unsafeSQL: op) \(bind: value)" }
        func list(_ values: [SQLValue]) -> SQLQuery {
            SQLQuery.joined(values.map { "\(bind: $0)" }, separator: ", ")
        }
        switch condition.op {
        case .equals: return compare("=", values[0])
        case .notEquals: return compare("<>", values[0])
        case .greaterThan: return compare(">", values[0])
        case .greaterThanOrEquals: return compare(">=", values[0])
        case .lessThan: return compare("<", values[0])
        case .lessThanOrEquals: return compare("<=", values[0])
        case .in: return values.isEmpty ? "1 = 0" : "\(column) IN (\(list(values)))"
        case .notIn: return values.isEmpty ? "1 = 1" : "\(column) NOT IN (\(list(values)))"
        case .regex:
            guard case let .text(pattern) = values[0] else { return "1 = 0" }
            return regex(column, pattern: pattern)
        }
    }
}

extension SQLMatcherDialect {
    /// The predicate of a listing's name filter on `column`, `nil` for ``NameFilter/all``.
    package func nameCondition(_ filter: NameFilter, column: SQLQuery) -> SQLQuery? {
        switch filter {
        case .all: return nil
        case let .exact(name): return "\(column) = \(bind: name)"
        case let .regex(pattern): return regex(column, pattern: pattern)
        }
    }
}

extension SQLMatcherDialect {
    /// How many events of `target` match `after` (a predicate on the events as `e`), at most `limit`: a count
    /// that reads no event, and stops at `limit`.
    package func eventCount(events: String, streams: String, after: SQLQuery, of target: SubscriptionTarget, limit: Int)
        -> SQLQuery
    {
        """
        SELECT count(*) FROM (SELECT 1 AS one FROM \(unsafeSQL: events) AS e JOIN \(unsafeSQL: streams) AS s ON s.id = e.stream_id
            WHERE \(after) AND \(targetCondition(target, name: "s.name", category: "s.category")) AND \(RetentionSQL.kept(self))
            LIMIT \(bind: limit)) AS behind
        """
    }

    /// The predicate of a subscription target, on the streams table's `name` and `category` columns.
    package func targetCondition(_ target: SubscriptionTarget, name: SQLQuery, category: SQLQuery) -> SQLQuery {
        switch target {
        case let .stream(stream): return "\(name) = \(bind: stream.rawValue)"
        case let .streams(streams):
            if streams.isEmpty { return "1 = 0" }
            return "\(name) IN (\(SQLQuery.joined(streams.map { "\(bind: $0.rawValue)" }, separator: ", ")))"
        case let .category(value): return "\(category) = \(bind: value)"
        case let .categories(values):
            if values.isEmpty { return "1 = 0" }
            return "\(category) IN (\(SQLQuery.joined(values.map { "\(bind: $0)" }, separator: ", ")))"
        case .all: return "substr(\(name), 1, 1) <> '$'"
        }
    }
}

extension SQLMatcherDialect {
    /// One page of a stream read: `limit` events of the stream `streamID` from position `bound` on (forward)
    /// or back (backward), those meeting `matching`, from the events table aliased `e`.
    ///
    /// Without a matcher the page is bounded on both sides: positions are dense, so it is exactly the
    /// `limit` positions from `bound` (or back from the stream's version, for a backward bound past it).
    /// That keeps every plan cheap: without it, a planner short of statistics may fetch and sort the whole
    /// rest of the stream for each page (measured on PostgreSQL and MariaDB: 10 to 25 times slower on
    /// 100,000 events). Retention (``LoadRetention``): `$tb` and `$maxCount` hide a prefix, so the kept
    /// positions are dense from the first kept one, where a forward page starts; `$maxAge` judges each
    /// event, and its streams' pages are bounded on one side only. The bounds are values, not subqueries:
    /// MariaDB reads a subquery's bound as no bound, and scanned the stream from its start for every page.
    package func streamPage(
        columns: String, events: String, streams: String, streamID: Int64, forward: Bool, matching: MetadataMatcher?,
        retention: LoadRetention, bound: Int, limit: Int
    ) -> SQLQuery {
        // Below the first kept position nothing is read: a forward page starts there at the latest.
        let bound = forward ? max(bound, retention.firstKept) : bound
        var filter: SQLQuery
        if let matching {
            filter = predicate(for: matching, metadata: "e.metadata")
        } else if retention.judgesAge {
            filter = "1 = 1"
        } else if forward {
            let far = bound.addingReportingOverflow(limit - 1)
            filter = "e.position <= \(bind: far.overflow ? Int.max : far.partialValue)"
        } else {
            filter = """
                e.position > LEAST(\(bind: bound), (SELECT version FROM \(unsafeSQL: streams) WHERE id = \(bind: streamID))) - \(bind: limit)
                """
        }
        if !forward, retention.firstKept > 1 { filter = "\(filter) AND e.position >= \(bind: retention.firstKept)" }
        if retention.judgesAge { filter = "\(filter) AND \(RetentionSQL.withinAge(self, streams: streams, streamID: streamID))" }
        let (comparison, order) = forward ? (">=", "ASC") : ("<=", "DESC")
        return """
            SELECT \(unsafeSQL: columns) FROM \(unsafeSQL: events) AS e
            WHERE e.stream_id = \(bind: streamID) AND e.position \(unsafeSQL: comparison) \(bind: bound) AND \(filter)
            ORDER BY e.stream_id \(unsafeSQL: order), e.position \(unsafeSQL: order) LIMIT \(bind: limit)
            """
    }
}
