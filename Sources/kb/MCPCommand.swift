import ArgumentParser
import Foundation
import KBCore
import KBMCP

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the knowledge base to an MCP host (Claude Desktop, Claude Code, Cursor, VS Code) over stdio.",
        discussion: """
            Speaks the Model Context Protocol on standard input and output, with the tools search, ask, read, \\
            list_documents and status; logs go to standard error. The host starts it; it stops when the host \\
            closes its input. The same tools are served over Streamable HTTP at /mcp by `kb serve`. \\
            Configuration snippets: see README, "MCP".
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var generation: GenerationOptions

    func run() async throws {
        try await reportingErrors(options) {
            let configuration = try options.configuration(generation: generation)
            let kb = try KnowledgeBase(configuration: configuration)
            let (_, warning) = try kb.configuredGenerator()
            if let warning { FileHandle.standardError.write(Data("kb mcp: warning: \(warning)\n".utf8)) }
            let service = try KnowledgeService(knowledgeBase: kb, queue: configuration.server.queue)
            try await KBMCPServer.runStdio(service: service)
            return 0
        }
    }
}
