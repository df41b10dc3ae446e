// A shopping cart on SQLite: typed events, an aggregate, a command handler and a repository with snapshots.
import EventSourcing
import EventStore
import EventStoreSQLite
// snippet.hide
import Foundation

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("event-sourcing-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let path = folder.appendingPathComponent("shop.sqlite").path
// snippet.show

// snippet.events
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
// snippet.end

// snippet.aggregate
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
// snippet.end

// snippet.handler
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
// snippet.end

// snippet.repository
let store = try await SQLiteEventStore(path: path)  // a program of your own: "./shop.sqlite"
let carts = AggregateRepository<ShoppingCart>(store: store, snapshotStore: store, snapshotEvery: 100)
let handler = CartHandler(carts: carts)
// snippet.end

// snippet.run
try await handler.handle(.open(cart: "c-1", customer: "ada"))
try await handler.handle(.add(cart: "c-1", sku: "book", quantity: 2))
try await handler.handle(.add(cart: "c-1", sku: "pen", quantity: 1))
try await handler.handle(.checkOut(cart: "c-1"))

if let cart = try await carts.load("c-1") {
    print(cart.root.customer, cart.root.items, cart.version)  // ada ["book": 2, "pen": 1] 4
    // snippet.hide
    precondition(cart.root.customer == "ada")
    precondition(cart.root.items == ["book": 2, "pen": 1])
    precondition(cart.version == 4)
    precondition(cart.root.checkedOut)
    // snippet.show
}
// snippet.end

// snippet.hide
// A checked-out cart refuses more items: the handler's decision throws, and nothing is written.
do {
    try await handler.handle(.add(cart: "c-1", sku: "mug", quantity: 1))
    preconditionFailure("a checked-out cart took an item")
} catch is CartError {
}
let reloaded = try await carts.load("c-1")
precondition(reloaded?.version == 4 && reloaded?.root.items == ["book": 2, "pen": 1])
// The events carry the aggregate's type, id and version in their metadata.
let stored = try await store.load("cart-c-1").collect()
precondition(stored.map(\.messageName) == ["CartOpened", "ItemAdded", "ItemAdded", "CartCheckedOut"])
precondition(stored.last?.metadata["_aggregate_version"] == 4)
precondition(stored.last?.metadata["_aggregate_type"] == "cart")
precondition(stored.last?.metadata["_aggregate_id"] == "c-1")
try? FileManager.default.removeItem(at: folder)
