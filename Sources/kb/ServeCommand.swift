import ArgumentParser
import Foundation
import KBCore
import KBServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the knowledge base over HTTP: kb's REST API and an OpenAI-compatible chat API.",
        discussion: """
            Binds 127.0.0.1:8080 by default. Every endpoint but /healthz needs Authorization: Bearer TOKEN when a \\
            token is set (KB_API_TOKEN or server.token); kb refuses to bind to a non-loopback address without one. \\
            SIGINT or SIGTERM stops it after the requests in flight. Endpoints: see README, "The daemon".
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var generation: GenerationOptions

    @Option(name: .long, help: "Address to listen on (default 127.0.0.1, or server.host).") var host: String?
    @Option(name: .long, help: "Port (default 8080, or server.port; 0 picks a free one).") var port: Int?
    @Option(name: .long, help: "Requests that may wait for the model while one runs (default 4); more get 429.") var queue: Int?
    @Option(name: .long, help: "Seconds an answer may take before it is stopped with 504 (default 300).") var timeout: Double?
    @Option(name: .long, help: "Seconds between looks at the knowledge folders for changes to ingest (default 2; 0: do not watch).") var watch: Double?
    @Option(name: .customLong("read-db"), help: ArgumentHelp("A read replica (a PostgreSQL standby) for searches and answers; writes go to --db (default: $KB_READ_DB, then read_database).", valueName: "url"))
    var readDB: String?

    func run() async throws {
        try await reportingErrors(options) {
            var configuration = try options.configuration(generation: generation)
            if let readDB { configuration.readDatabase = readDB }
            var settings = ServerSettings()
            settings.host = host ?? configuration.server.host
            settings.port = port ?? configuration.server.port
            settings.token = configuration.server.token
            settings.maxQueuedGenerations = max(0, queue ?? configuration.server.queue)
            settings.watchInterval = max(0, watch ?? configuration.server.watchInterval)
            settings.requestTimeout = max(1, timeout ?? 300)
            let kb = try KnowledgeBase(configuration: configuration, readReplica: true)
            settings.hasUsers = !(try await kb.users().users.isEmpty)
            let (generator, warning) = try kb.configuredGenerator()
            if let warning { Terminal.printWarning("warning: \(warning)") }
            let server = try KBServer(kb: kb, settings: settings)
            let host = settings.host
            try await server.run { port in
                FileHandle.standardError.write(Data("kb: serving \(kb.location) on http://\(host):\(port) (generator: \(generator.name)\(generator.model.map { " " + $0 } ?? ""))\n".utf8))
            }
            return 0
        }
    }
}
