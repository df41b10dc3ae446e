import EventStore
import Foundation

/// A TCP client with a small receive buffer that sends one request and then reads nothing until asked.
public final class StalledClient: Sendable {
    public let descriptor: Int32

    public init(port: Int, request: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw EventStoreError.backend("cannot connect to port \(port)") }
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
    }

    /// Reads until the server closes the connection (`true`), or `limit` passes (`false`). The blocking
    /// reads run on a dispatch thread, never on the cooperative pool.
    public func readsToEnd(within limit: Duration) async -> Bool {
        let descriptor = self.descriptor
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = ContinuousClock.now + limit
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while ContinuousClock.now < deadline {
                    let count = recv(descriptor, &buffer, buffer.count, 0)
                    if count == 0 || (count < 0 && errno == ECONNRESET) { return continuation.resume(returning: true) }
                }
                continuation.resume(returning: false)
            }
        }
    }

    /// The bytes the server at `serverPort` has written to this client and the client has not taken: the
    /// server end's send queue plus this end's receive queue (`/proc/net/tcp`, both ends on this machine), 0
    /// when the connection is not listed.
    public func unreadBytes(fromServerPort serverPort: Int) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        guard named, let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return 0 }
        let ownPort = Int(UInt16(bigEndian: address.sin_port))
        // "sl local_address rem_address st tx_queue:rx_queue …", addresses and queues in hexadecimal. What the
        // client did not read waits either in the server's send queue or in this socket's receive queue
        // (which the kernel may let grow large): both are counted.
        var unread = 0
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4, let local = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                let remote = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { continue }
            let queues = fields[4].split(separator: ":").map { Int($0, radix: 16) ?? 0 }
            guard queues.count == 2 else { continue }
            if local == serverPort, remote == ownPort { unread += queues[0] }
            if local == ownPort, remote == serverPort { unread += queues[1] }
        }
        return unread
    }

    public func close() { _ = Foundation.close(descriptor) }
}
