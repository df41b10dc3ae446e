import EventStore
import Testing

extension EventStoreConformance {
    static let listingCases: [ConformanceCase] = [
        ConformanceCase("listing", "fetchesStreamNamesWithFilterLimitOffsetAndMatcher") { store in
            for i in 0..<50 {
                try await store.create(try StreamName("user-\(i)"))
                try await store.create(try StreamName("admin-\(i)"), metadata: ["foo": "bar"], events: [])
            }
            for i in 0..<20 { try await store.create(try StreamName("rand\(i)")) }
            #expect(try await store.streamNames(.exact("user-0"), limit: 200) == ["user-0"])
            #expect(try await store.streamNames(limit: 200).count == 120)
            #expect(try await store.streamNames(limit: 200, offset: 200).isEmpty)
            #expect(try await store.streamNames(limit: 10).count == 10)
            #expect(try await store.streamNames(limit: 10, offset: 10).count == 10)
            #expect(try await store.streamNames(limit: 10, offset: 115).count == 5)
            let all = try await store.streamNames(limit: 200)
            #expect(all == all.sorted())
            #expect(all[0..<50].allSatisfy { $0.rawValue.hasPrefix("admin-") })
            #expect(all[50..<70].allSatisfy { $0.rawValue.hasPrefix("rand") })
            #expect(all[70..<120].allSatisfy { $0.rawValue.hasPrefix("user-") })
            #expect(try await store.streamNames().count == 20)

            #expect(try await store.streamNames(.regex("s.*er-"), limit: 30).count == 30)
            #expect(try await store.streamNames(.regex("s.*er-"), limit: 20, offset: 10).count == 20)
            #expect(try await store.streamNames(.regex("s.*er-"), limit: 100, offset: 45).count == 5)
            let fooBar = try MetadataMatcher().metadata("foo", .equals, "bar")
            let notFooBar = try MetadataMatcher().metadata("foo", .notEquals, "bar")
            #expect(try await store.streamNames(.regex("n.*-"), matching: fooBar, limit: 30).count == 30)
            #expect(try await store.streamNames(.regex("n.*-"), matching: fooBar, limit: 100).count == 50)
            #expect(try await store.streamNames(.regex("n.*-"), matching: notFooBar, limit: 30).isEmpty)
            #expect(try await store.streamNames(matching: notFooBar, limit: 30).isEmpty)
            #expect(try await store.streamNames(matching: fooBar, limit: 100).count == 50)
            #expect(try await store.streamNames(.exact("admin-3"), matching: fooBar) == ["admin-3"])
            #expect(try await store.streamNames(.exact("user-3"), matching: fooBar).isEmpty)
            #expect(try await store.streamNames(.exact("user-3"), offset: 1).isEmpty)
            #expect(try await store.streamNames(.exact("nobody")).isEmpty)
        },
        ConformanceCase("listing", "invalidRegexLimitOrOffsetIsAnInvalidArgument") { store in
            try await store.create("user-1")
            await expectError(.invalidArgument) { try await store.streamNames(.regex("invalid)")) }
            await expectError(.invalidArgument) { try await store.categoryNames(.regex("invalid)")) }
            await expectError(.invalidArgument) { try await store.streamNames(limit: 0) }
            await expectError(.invalidArgument) { try await store.streamNames(offset: -1) }
            await expectError(.invalidArgument) { try await store.categoryNames(limit: 0) }
            await expectError(.invalidArgument) { try await store.categoryNames(offset: -1) }
            let property = try MetadataMatcher().property(.messageName, .equals, "x")
            await expectError(.invalidArgument) { try await store.streamNames(matching: property) }
        },
        ConformanceCase("listing", "fetchesCategoryNamesSortedOnceEach") { store in
            for category in ["foo", "bar", "baz", "bam", "foobar", "foobaz", "foobam"] {
                for i in 0..<5 { try await store.create(try StreamName("\(category)-\(i)")) }
            }
            for i in 0..<20 { try await store.create(try StreamName("rand\(i)")) }
            #expect(try await store.categoryNames(limit: 20) == ["bam", "bar", "baz", "foo", "foobam", "foobar", "foobaz"])
            #expect(try await store.categoryNames(limit: 20, offset: 20).isEmpty)
            #expect(try await store.categoryNames(limit: 3).count == 3)
            #expect(try await store.categoryNames(limit: 3, offset: 3) == ["foo", "foobam", "foobar"])
            #expect(try await store.categoryNames(limit: 10, offset: 2).count == 5)
            #expect(try await store.categoryNames(.exact("foo")) == ["foo"])
            #expect(try await store.categoryNames(.exact("fo")).isEmpty)
            #expect(try await store.categoryNames(.regex("^foo")) == ["foo", "foobam", "foobar", "foobaz"])
            #expect(try await store.categoryNames(.regex("^foo"), limit: 2, offset: 2) == ["foobar", "foobaz"])
        },
        ConformanceCase("listing", "categoryIsThePartBeforeTheFirstDash") { store in
            try await store.create("a-b-c")
            try await store.create("-leading")
            try await store.create("trailing-")
            try await store.create("nodash")
            #expect(try await store.categoryNames() == ["a", "trailing"])
            #expect(StreamName("user-123").category == "user")
            #expect(StreamName("a-b-c").category == "a")
            #expect(StreamName("user").category == nil)
            #expect(StreamName("$ct-user").isInternal)
            #expect(StreamName("user-1").isInternal == false)
        },
    ]
}
