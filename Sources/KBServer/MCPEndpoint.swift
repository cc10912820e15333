import Foundation
import HTTPTypes
import Hummingbird
import KBCore
import KBMCP
import MCP
import NIOCore

/// `/mcp`: MCP's Streamable HTTP transport on the daemon (POST for messages, GET for the server's stream, DELETE
/// to end a session), behind the same bearer token as the rest of the API. Requests and responses are adapted
/// to ``MCPSessions``; while a tool call's response streams, a comment line goes out every second so that a
/// client that went away is noticed and its generation stopped.
struct MCPEndpoint: Sendable {
    let sessions: MCPSessions
    let limit: Int
    static let heartbeat: Duration = .seconds(1)

    func handle(_ request: Request, caller: Caller) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        if let authority = request.head.authority { headers["Host"] = authority }
        let data = Data(buffer: body)
        let message = MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: data.isEmpty ? nil : data,
                                      path: request.uri.path)
        let reply = await sessions.handle(message, caller: caller)
        var fields = HTTPFields()
        for (name, value) in reply.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        if case .stream(let events, _) = reply {
            let session = reply.headers.first { $0.key.lowercased() == HTTPHeaderName.sessionID.lowercased() }?.value
                ?? message.header(HTTPHeaderName.sessionID)
            let call = request.method == .post ? MCPSessions.requestID(in: data) : nil
            return Response(status: .init(code: reply.statusCode), headers: fields,
                            body: ResponseBody { writer in try await stream(events, to: &writer, session: session, call: call) })
        }
        let bytes = reply.bodyData.map { ByteBuffer(bytes: $0) } ?? ByteBuffer()
        return Response(status: .init(code: reply.statusCode), headers: fields, body: ResponseBody(byteBuffer: bytes))
    }

    /// Writes the SDK's event stream with heartbeats in between; when a write fails (the client closed the
    /// connection), the call the stream answers is cancelled.
    func stream(_ events: AsyncThrowingStream<Data, any Error>, to writer: inout any ResponseBodyWriter,
                session: String?, call: String?) async throws {
        let (merged, continuation) = AsyncStream<ByteBuffer?>.makeStream()
        let forward = Task {
            do {
                for try await event in events { continuation.yield(ByteBuffer(bytes: event)) }
            } catch {}
            continuation.yield(nil)   // the SDK's stream ended
            continuation.finish()
        }
        let beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.heartbeat)
                continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
            }
        }
        defer {
            forward.cancel()
            beat.cancel()
        }
        do {
            for await item in merged {
                guard let item else { break }
                try await writer.write(item)
            }
            try await writer.finish(nil)
        } catch {
            if let session, let call { await sessions.clientLeft(session: session, requestID: call) }
            throw error
        }
    }
}
