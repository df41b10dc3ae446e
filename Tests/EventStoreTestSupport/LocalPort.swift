import EventStore
import Foundation

/// Ports of 127.0.0.1 for servers and proxies the tests start.
public enum LocalPort {
    /// A port that nothing listens on now: bound by the system's choice, then closed.
    public static func free() throws -> Int {
        let (descriptor, port) = try bound()
        close(descriptor)
        return port
    }

    /// A port bound and not listening, held until the closure returns: a connection to it is refused at once,
    /// and no server a test starts meanwhile can take it (as it could a ``free()`` port).
    public static func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
        let (descriptor, port) = try bound()
        defer { close(descriptor) }
        return try await body(port)
    }

    /// A socket bound to a port of the system's choice, and the port.
    private static func bound() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw EventStoreError.backend("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw EventStoreError.backend("cannot bind a free port")
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }
}
