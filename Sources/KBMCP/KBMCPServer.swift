import Foundation
import KBCore
import Logging
import MCP

/// kb as a Model Context Protocol server: the tools of ``MCPTools`` over stdio (`kb mcp`) or Streamable HTTP
/// (`/mcp` on `kb serve`, see ``MCPSessions``). One `Server` per client session, all sharing one service layer.
public enum KBMCPServer {
    /// The name and version kb reports in `initialize`.
    public static let name = "kb"
    public static let version = "0.1.0"

    static let instructions = """
        kb answers from the user's own documents (Chinese and English). Use `search` to find passages, `read` to see \
        the text around them, and `ask` for a checked answer with citations (it abstains when the documents do not \
        say). Cite the path and lines kb returns.
        """

    /// A server with kb's tools registered (not started).
    public static func make(service: KnowledgeService, logger: Logger) async -> Server {
        let server = Server(name: name, version: version, title: "kb knowledge base", instructions: instructions,
                            capabilities: .init(tools: .init(listChanged: false)))
        let tools = MCPTools(service: service)
        let weak = WeakServer(server)
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: MCPTools.tools) }
        await server.withMethodHandler(CallTool.self) { (params: CallTool.Parameters) async throws -> CallTool.Result in
            try await handle(params, tools: tools, server: weak)
        }
        return server
    }

    /// Runs one tool call in its own task so that it can be cancelled: by the client (`notifications/cancelled`
    /// cancels the handler) or by the HTTP front end when the client's connection goes away.
    static func handle(_ params: CallTool.Parameters, tools: MCPTools, server: WeakServer) async throws -> CallTool.Result {
        var progress: MCPTools.Progress?
        if let token = params._meta?.progressToken {
            progress = { @Sendable (value: Double, total: Double?, message: String) async -> Void in
                let notification = ProgressNotification.message(.init(progressToken: token, progress: value, total: total, message: message))
                _ = try? await server.server?.notify(notification)
            }
        }
        let call = CallKey.current()
        let name = params.name, arguments = params.arguments, report = progress
        let work = Task { try await tools.call(name, arguments: arguments, progress: report) }
        if let call { await MCPCalls.shared.register(call, work) }
        defer { if let call { Task { await MCPCalls.shared.remove(call) } } }
        return try await withTaskCancellationHandler {
            do {
                let result = try await work.value
                // A cancelled generation returns what it had; say so rather than pass it off as the answer.
                return work.isCancelled ? cancelled : result
            } catch is CancellationError {
                return cancelled
            }
        } onCancel: { work.cancel() }
    }

    static let cancelled = CallTool.Result(content: [.text(text: "kb: the call was cancelled.", annotations: nil, _meta: nil)], isError: true)

    /// Serves one client over standard input and output until it closes its end; logs go to standard error.
    public static func runStdio(service: KnowledgeService) async throws {
        var logger = Logger(label: "kb.mcp") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["KB_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        let server = await make(service: service, logger: logger)
        try await server.start(transport: StdioTransport(logger: logger))
        await server.waitUntilCompleted()
        await server.stop()
    }
}

/// Lets the tool handler reach its server (for progress) without the server holding itself.
final class WeakServer: @unchecked Sendable {
    weak var server: Server?
    init(_ server: Server) { self.server = server }
}

/// Identifies a tool call over HTTP: its session and JSON-RPC id, read from the request the handler is serving.
struct CallKey: Hashable, Sendable {
    var session: String
    var request: String

    /// The key of the call the current handler serves, when it came over HTTP.
    static func current() -> CallKey? {
        guard let http = Server.currentHandlerContext?.httpContext, let session = http.header(HTTPHeaderName.sessionID),
              let body = http.body, let id = MCPSessions.requestID(in: body) else { return nil }
        return CallKey(session: session, request: id)
    }
}

/// Tool calls in flight over HTTP, so that a client that goes away mid-call stops its generation.
actor MCPCalls {
    static let shared = MCPCalls()
    private var tasks: [CallKey: Task<CallTool.Result, any Error>] = [:]

    func register(_ key: CallKey, _ task: Task<CallTool.Result, any Error>) { tasks[key] = task }
    func remove(_ key: CallKey) { tasks[key] = nil }

    /// Cancels a call; true when one was running.
    @discardableResult func cancel(_ key: CallKey) -> Bool {
        guard let task = tasks.removeValue(forKey: key) else { return false }
        task.cancel()
        return true
    }

    /// Cancels every call of a session.
    func cancel(session: String) {
        for (key, task) in tasks where key.session == session {
            task.cancel()
            tasks[key] = nil
        }
    }

    var count: Int { tasks.count }
}
