import EventStore
import Hummingbird
import Logging

/// An error answered with an RFC 9457 problem document (`application/problem+json`).
public struct HTTPProblem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String?

    public init(_ status: HTTPResponse.Status, _ title: String, detail: String? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = "{\"type\":\"about:blank\",\"title\":"
        body += JSONValue.string(title).jsonText
        body += ",\"status\":\(status.code)"
        if let detail { body += ",\"detail\":" + JSONValue.string(detail).jsonText }
        body += "}"
        return Response(
            status: status, headers: [.contentType: "application/problem+json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ detail: String) -> HTTPProblem { HTTPProblem(.badRequest, "Bad Request", detail: detail) }

    /// The problem for a store error: 400 bad input, 404 not found, 409 conflict (or a projection running
    /// elsewhere), 503 busy, 500 otherwise.
    static func from(_ error: EventStoreError) -> HTTPProblem {
        switch error.code {
        case .invalidArgument, .decodingFailed, .nestedTransaction, .transactionClosed:
            return HTTPProblem(.badRequest, "Bad Request", detail: error.reason)
        case .streamNotFound, .projectionNotFound:
            return HTTPProblem(.notFound, "Not Found", detail: error.reason)
        case let code where code.isConflict || code == .projectionRunning:
            return HTTPProblem(.conflict, "Conflict", detail: error.reason)
        case .busy:
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
            if HTTPProblem.from(error).status == .internalServerError {
                context.logger.error("store failure", metadata: ["error": "\(error)"])
            }
            throw HTTPProblem.from(error)
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
