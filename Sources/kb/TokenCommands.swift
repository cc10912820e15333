import ArgumentParser
import Foundation
import KBCore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage the API tokens of the people who use a shared knowledge base (kb serve).",
        discussion: """
            Once any user token exists, every request to kb serve needs a token, loopback included. Readers search, \\
            ask, read and rate; writers also ingest and remove documents; admins also manage tokens. Tokens are \\
            kept only as their SHA-256; KB_API_TOKEN keeps working as the owner's token.
            """,
        subcommands: [TokenCreateCommand.self, TokenListCommand.self, TokenRevokeCommand.self]
    )
}

struct TokenCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user and print their token once (--json: {\"name\",\"role\",\"token\"}).")

    @OptionGroup var options: GlobalOptions
    @Option(name: .long, help: "The user's name (letters, digits, . _ @ -).") var name: String
    @Option(name: .long, help: "reader, writer or admin.") var role: String

    func run() async throws {
        try await reportingErrors(options) {
            guard let parsed = UserRole(rawValue: role.lowercased()) else {
                throw KBError(.invalidArgument, "--role is reader, writer or admin, not \(role).")
            }
            let kb = try KnowledgeBase(configuration: try options.configuration(), create: true)
            let issued = try await KnowledgeService(knowledgeBase: kb).createToken(TokenRequest(name: name, role: parsed), caller: .owner)
            if options.json {
                JSONOutput.print(issued)
            } else {
                print(issued.token)
                Terminal.printWarning("Created \(issued.role.rawValue) \(issued.name) in \(kb.location). The token above is shown only now; send it as Authorization: Bearer TOKEN.")
            }
            return 0
        }
    }
}

struct TokenListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users and their roles (never their tokens).")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let list = try await KnowledgeService(knowledgeBase: kb).users(caller: .owner)
            if options.json {
                JSONOutput.print(list)
            } else if list.users.isEmpty {
                print("No users: kb serve needs no token on loopback (or KB_API_TOKEN when one is set).")
            } else {
                let formatter = ISO8601DateFormatter()
                let width = max(4, list.users.map(\.name.count).max() ?? 0)
                for user in list.users {
                    let name = user.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    let role = user.role.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
                    print("\(name)  \(role)  created \(formatter.string(from: Date(timeIntervalSince1970: user.createdAt)))")
                }
            }
            return 0
        }
    }
}

struct TokenRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Remove a user; their token stops working at once.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user's name.") var name: String

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let revoked = try await KnowledgeService(knowledgeBase: kb).revokeToken(name: name, caller: .owner)
            if options.json { JSONOutput.print(revoked) } else { print("Revoked \(name).") }
            return 0
        }
    }
}
