import ArgumentParser
import Foundation
import KBCore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the knowledge base --db names into another database: PostgreSQL (--to postgres://…) or a SQLite file.",
        discussion: """
            Documents, chunks, every embedding model's vectors (nothing is re-embedded), conversations, ratings and \\
            users (with their token hashes) are copied; the source is only read. The target must be empty. \\
            Example: kb migrate --db .kb/kb.sqlite --to postgres://kb:secret@db.example:5432/kb
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("The database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB or a .sqlite file.", valueName: "database"))
    var to: String

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let live = !options.json && isatty(2) == 1
            let counts = try await kb.migrate(to: to) { counts in
                if live { FileHandle.standardError.write(Data("\rkb: \(counts.documents) documents, \(counts.chunks) chunks, \(counts.vectors) vectors copied".utf8)) }
            }
            if live { FileHandle.standardError.write(Data("\n".utf8)) }
            if options.json {
                JSONOutput.print(counts)
            } else {
                print("Copied \(kb.location) to \(to.contains("://") ? PostgresStore.redact(to) : to): \(counts.documents) documents, \(counts.chunks) chunks, \(counts.vectors) vectors, \(counts.conversations) conversations (\(counts.answers) answers), \(counts.feedback) ratings, \(counts.users) users in \(String(format: "%.1f", counts.seconds)) s.")
            }
            return 0
        }
    }
}
