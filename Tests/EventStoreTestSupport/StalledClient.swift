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

    /// This end's port.
    private var ownPort: Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        return named ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    /// The kernel's queues of this connection (`/proc/net/tcp`, both ends on this machine), or `nil` when
    /// the connection is not listed.
    public func queues(serverPort: Int) -> ConnectionQueues? {
        guard let ownPort, let table = ProcFile.read("/proc/net/tcp") else { return nil }
        // "sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode …", in
        // hexadecimal but for uid, timeout and inode. A socket no process holds any more has inode 0.
        var server: (send: Int, open: Bool)?
        var clientReceive: Int?
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, let local = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                let remote = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { continue }
            let queues = fields[4].split(separator: ":").map { Int($0, radix: 16) ?? 0 }
            guard queues.count == 2 else { continue }
            if local == serverPort, remote == ownPort { server = (queues[0], fields[3] == "01" && fields[9] != "0") }
            if local == ownPort, remote == serverPort { clientReceive = queues[1] }
        }
        guard let server, let clientReceive else { return nil }
        return ConnectionQueues(serverSend: server.send, clientReceive: clientReceive, serverHoldsIt: server.open)
    }

    /// What the client received first, and the `/proc/net/tcp` lines of this connection, both ends: what a
    /// failure message shows.
    public func connectionState(serverPort: Int) -> String {
        let (own, server) = (String(format: "%04X", ownPort ?? 0), String(format: "%04X", serverPort))
        let table = ProcFile.read("/proc/net/tcp") ?? ""
        let lines = table.split(separator: "\n").filter { $0.contains(":\(own) ") && $0.contains(":\(server) ") }.map(String.init)
        var received = [UInt8](repeating: 0, count: 400)
        let peeked = recv(descriptor, &received, received.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        let peekError = errno
        var pending: Int32 = 0
        var pendingLength = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &pending, &pendingLength)
        let start = peeked < 0 ? "received nothing (errno \(peekError), SO_ERROR \(pending))"
            : "received first: " + String(decoding: received.prefix(peeked), as: UTF8.self)
        return ([start] + lines).joined(separator: "\n")
    }

    public func close() { _ = Foundation.close(descriptor) }
}

/// What waits in the kernel between a server and a `StalledClient`.
public struct ConnectionQueues: Equatable, Sendable {
    /// Bytes the server wrote that the client has not received.
    public var serverSend: Int
    /// Bytes the client received and has not read.
    public var clientReceive: Int
    /// Whether the server's end is established and still held by its process.
    public var serverHoldsIt: Bool
}

/// Files of `/proc`, read to their end: they have no size, and Foundation's `String(contentsOfFile:)` reads
/// only their first 4 kB (27 of 992 lines of `/proc/net/tcp` on a machine with many closed connections).
public enum ProcFile {
    /// Bytes that connections to `port` on this machine received and their server has not read (the
    /// receive queues of `/proc/net/tcp`'s established sockets on that local port): a frozen server's
    /// unanswered requests.
    public static func unreadBytes(atServerPort port: Int) -> Int {
        guard let table = read("/proc/net/tcp") else { return 0 }
        return table.split(separator: "\n").dropFirst().reduce(0) { total, line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[3] == "01", fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) == port,
                let queue = fields[4].split(separator: ":").last.flatMap({ Int($0, radix: 16) })
            else { return total }
            return total + queue
        }
    }

    public static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { _ = Foundation.close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Foundation.read(descriptor, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(contentsOf: buffer.prefix(count))
        }
    }
}
