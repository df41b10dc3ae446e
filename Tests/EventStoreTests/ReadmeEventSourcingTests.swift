import EventSourcing
import EventStore
import EventStoreSQLite
import EventStoreTestSupport
import Foundation
import Testing

// The README's event-sourcing example, kept compiling and passing here.

struct CartOpened: DomainEvent {
    static let messageName = "CartOpened"
    var customer: String
}

struct ItemAdded: DomainEvent {
    static let messageName = "ItemAdded"
    var sku: String
    var quantity: Int
}

struct CartCheckedOut: DomainEvent {
    static let messageName = "CartCheckedOut"
}

struct ShoppingCart: AggregateRoot {
    static let aggregateType = "cart"
    static let eventTypes: [any DomainEvent.Type] = [CartOpened.self, ItemAdded.self, CartCheckedOut.self]

    let id: String
    var customer = ""
    var items: [String: Int] = [:]
    var checkedOut = false

    init(id: String) { self.id = id }

    mutating func apply(_ event: any DomainEvent) throws {
        switch event {
        case let opened as CartOpened: customer = opened.customer
        case let added as ItemAdded: items[added.sku, default: 0] += added.quantity
        case is CartCheckedOut: checkedOut = true
        default: throw AggregateError.unknownEvent(event)
        }
    }
}

enum CartCommand {
    case open(cart: String, customer: String)
    case add(cart: String, sku: String, quantity: Int)
    case checkOut(cart: String)
}

struct CartError: Error {
    let reason: String
}

/// The command handler: load, decide, save, and again on a conflict.
struct CartHandler {
    let carts: AggregateRepository<ShoppingCart>

    func handle(_ command: CartCommand) async throws {
        switch command {
        case let .open(cart, customer):
            try await carts.update(cart) { cart in
                guard cart.version == 0 else { throw CartError(reason: "cart \(cart.id) exists") }
                try cart.record(CartOpened(customer: customer))
            }
        case let .add(cart, sku, quantity):
            try await carts.update(cart, createIfMissing: false) { cart in
                guard !cart.root.checkedOut else { throw CartError(reason: "cart \(cart.id) is checked out") }
                try cart.record(ItemAdded(sku: sku, quantity: quantity))
            }
        case let .checkOut(cart):
            try await carts.update(cart, createIfMissing: false) { cart in
                guard !cart.root.items.isEmpty else { throw CartError(reason: "cart \(cart.id) is empty") }
                try cart.record(CartCheckedOut())
            }
        }
    }
}

@Test(.watchdog()) func readmeEventSourcingExample() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    let store = try await SQLiteEventStore(path: directory.appendingPathComponent("shop.sqlite").path)
    let carts = AggregateRepository<ShoppingCart>(store: store, snapshotStore: store, snapshotEvery: 100)
    let handler = CartHandler(carts: carts)

    try await handler.handle(.open(cart: "c-1", customer: "ada"))
    try await handler.handle(.add(cart: "c-1", sku: "book", quantity: 2))
    try await handler.handle(.add(cart: "c-1", sku: "pen", quantity: 1))
    try await handler.handle(.checkOut(cart: "c-1"))
    await #expect(throws: CartError.self) { try await handler.handle(.add(cart: "c-1", sku: "mug", quantity: 1)) }

    let cart = try #require(try await carts.load("c-1"))
    print(cart.root.customer, cart.root.items, cart.version)  // ada ["book": 2, "pen": 1] 4
    #expect(cart.root.items == ["book": 2, "pen": 1])
    #expect(cart.version == 4)
    #expect(cart.root.checkedOut)
}
