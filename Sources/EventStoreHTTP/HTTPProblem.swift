import EventStore
import Hummingbird
import Logging

/// An error answered with an RFC 9457 problem document (`application/problem+json`).
public struct HTTPProblem: HTTPResponseError, Sendable {
    /// The response's status, also the document's `status` member (`503` also sends `Retry-After: 1`).
    public var status: HTTPResponse.Status
    /// A short summary of the kind of problem: the status's reason phrase (`Not Found`) in every problem the
    /// server makes.
    public var title: String
    /// What went wrong in this case, for a person to read; `nil` leaves the member out.
    public var detail: String?
    /// Members besides RFC 9457's, in order: for a store error its `code` (`EventStoreError.Code.label`), and
    /// the `stream`, `expected_version` and `actual_version` it names, so that a client rebuilds the error.
    public var extensions: [(key: String, value: JSONValue)] = []

    /// A problem with no extension members.
    /// - Parameters:
    ///   - status: the response's status.
    ///   - title: a short summary of the kind of problem, usually the status's reason phrase.
    ///   - detail: what went wrong in this case; `nil` (the default) for nothing more.
    public init(_ status: HTTPResponse.Status, _ title: String, detail: String? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
    }

    /// The problem document, on one line.
    var jsonText: String {
        var body = "{\"type\":\"about:blank\",\"title\":"
        body += JSONValue.string(title).jsonText
        body += ",\"status\":\(status.code)"
        if let detail { body += ",\"detail\":" + JSONValue.string(detail).jsonText }
        for member in extensions { body += "," + JSONValue.string(member.key).jsonText + ":" + member.value.jsonText }
        return body + "}"
    }

    /// The response Hummingbird sends for the error: the problem document on one line, with
    /// `Content-Type: application/problem+json`, and `Retry-After: 1` for a 503.
    /// - Parameters:
    ///   - request: the request that failed; not read.
    ///   - context: the request's context; not read.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: jsonText)))
    }

    static func badRequest(_ detail: String) -> HTTPProblem { HTTPProblem(.badRequest, "Bad Request", detail: detail) }

    /// The problem for a store error: 400 bad input, 404 not found, 410 deleted for good, 409 conflict (or a projection running
    /// elsewhere), 503 busy or a backend failure (with `Retry-After`), 500 otherwise (corrupt data).
    static func from(_ error: EventStoreError) -> HTTPProblem {
        var problem = status(of: error)
        problem.extensions.append(("code", .string(error.code.label)))
        if let stream = error.streamName { problem.extensions.append(("stream", .string(stream.rawValue))) }
        if let expected = error.expectedVersion {
            problem.extensions.append(("expected_version", .string(expected.description)))
            problem.extensions.append(("actual_version", error.actualVersion.map { .number(String($0)) } ?? .null))
        }
        if let projection = error.projectionName { problem.extensions.append(("projection", .string(projection))) }
        return problem
    }

    private static func status(of error: EventStoreError) -> HTTPProblem {
        switch error.code {
        case .invalidArgument, .decodingFailed, .nestedTransaction, .transactionClosed:
            return HTTPProblem(.badRequest, "Bad Request", detail: error.reason)
        case .streamNotFound, .projectionNotFound, .consumerGroupNotFound:
            return HTTPProblem(.notFound, "Not Found", detail: error.reason)
        case .streamDeleted:
            return HTTPProblem(.gone, "Gone", detail: error.reason)
        case let code where code.isConflict || code == .projectionRunning:
            return HTTPProblem(.conflict, "Conflict", detail: error.reason)
        case .busy, .backend, .wrongPartition:
            // The database is down, unreachable or slow, or a partition's bucket is moving: the reason says
            // which, and for a write whether its outcome is unknown (read before retrying).
            return HTTPProblem(.serviceUnavailable, "Service Unavailable", detail: error.reason)
        default:
            return HTTPProblem(.internalServerError, "Internal Server Error", detail: "the event store failed; see the server log")
        }
    }
}

/// Turns every error into a problem document: store errors by their code, Hummingbird's own errors by
/// their status (413 for a body over the limit), anything else as 500.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as HTTPProblem {
            throw problem
        } catch let error as EventStoreError {
            if error.code == .backend || HTTPProblem.from(error).status == .internalServerError {
                context.logger.error("store failure", metadata: ["error": "\(error)"])
            }
            throw HTTPProblem.from(error)
        } catch is CancellationError {
            // The request's task was cancelled (a shutdown past its timeout): nothing was done, or a write
            // that had begun answered with its own error above.
            context.logger.info("request cancelled")
            throw HTTPProblem(.serviceUnavailable, "Service Unavailable", detail: "the request was cancelled: the server is shutting down")
        } catch let error as any HTTPResponseError {
            let title = error.status.reasonPhrase
            let detail = error.status == .contentTooLarge ? "the request body is over the size limit" : nil
            throw HTTPProblem(error.status, title, detail: detail)
        } catch {
            context.logger.error("unexpected failure", metadata: ["error": "\(error)"])
            throw HTTPProblem(.internalServerError, "Internal Server Error")
        }
    }
}
