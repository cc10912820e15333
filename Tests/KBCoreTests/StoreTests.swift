import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct SchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func embeddedMigrationsMatchSchemaFiles() async throws {
        let folder = Self.root.appendingPathComponent("Schemas/sqlite").path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == SchemaMigrations.all.map(\.name), "run scripts/generate-schema.sh")
        for migration in SchemaMigrations.all {
            let text = try String(contentsOfFile: folder + "/" + migration.name, encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines),
                    "\(migration.name) differs from the embedded copy: run scripts/generate-schema.sh")
        }
    }

    @Test func embeddedPostgresMigrationsMatchSchemaFiles() async throws {
        let folder = Self.root.appendingPathComponent("Schemas/postgres").path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == PostgresMigrations.all.map(\.name), "run scripts/generate-schema.sh")
        for migration in PostgresMigrations.all {
            let text = try String(contentsOfFile: folder + "/" + migration.name, encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines),
                    "\(migration.name) differs from the embedded copy: run scripts/generate-schema.sh")
        }
        // Every statement is applied on its own: none may hide a second one.
        for migration in PostgresMigrations.all {
            for statement in PostgresStore.statements(migration.sql) { #expect(statement.filter { $0 == ";" }.count == 1, "\(statement)") }
        }
    }

    @Test func databaseSchemaIsTheSchemaFiles() async throws {
        let folder = TemporaryFolder()
        let store = try SQLiteStore(path: folder.path + "/kb.sqlite", create: true)
        let reference = try SQLiteConnection(path: folder.path + "/reference.sqlite", create: true)
        for migration in SchemaMigrations.all { try reference.execute(migration.sql) }
        let expected = try reference.query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").map { $0.string(0) }
        await #expect(try store.schemaSQL() == expected)
        await #expect(try store.schemaVersion() == SchemaMigrations.all.count)
    }

    @Test func refusesFilesThatAreNotKnowledgeBases() async throws {
        let folder = TemporaryFolder()
        let text = folder.write("notes.txt", "just some text, not a database")
        #expect(throws: KBError(.notAKnowledgeBase, "\(text) is not a kb database (it is not an SQLite file). Point --db or KB_DB at a kb database, or at a new path.")) {
            try SQLiteStore(path: text, create: false)
        }
        let other = try SQLiteConnection(path: folder.path + "/other.sqlite", create: true)
        try other.execute("CREATE TABLE t (x)")
        other.close()
        await expectKBError(.notAKnowledgeBase) { try SQLiteStore(path: folder.path + "/other.sqlite", create: false) }
        await expectKBError(.noKnowledgeBase) { try SQLiteStore(path: folder.path + "/missing.sqlite", create: false) }
    }

    @Test func refusesANewerSchema() async throws {
        let folder = TemporaryFolder()
        _ = try SQLiteStore(path: folder.path + "/kb.sqlite", create: true)
        let raw = try SQLiteConnection(path: folder.path + "/kb.sqlite", create: false)
        try raw.execute("PRAGMA user_version = 99")
        raw.close()
        await expectKBError(.schemaTooNew) { try SQLiteStore(path: folder.path + "/kb.sqlite", create: false) }
    }

    @Test func usesWAL() async throws {
        let folder = TemporaryFolder()
        _ = try SQLiteStore(path: folder.path + "/kb.sqlite", create: true)
        let raw = try SQLiteConnection(path: folder.path + "/kb.sqlite", create: false)
        #expect(try raw.scalar("PRAGMA journal_mode").string == "wal")
    }
}

@Suite struct ConfigurationTests {
    @Test func precedenceFlagEnvironmentFileDefault() async throws {
        let folder = TemporaryFolder()
        folder.write(".kb/config.toml", """
            # kb settings
            database = "data/from-file.sqlite"
            knowledge_folders = ["notes", "papers"]
            max_file_size = "1MiB"
            [chunking]
            max_tokens = 120
            """)
        let sub = folder.path + "/notes/deeper"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)

        let fromFile = try Configuration.resolve(environment: [:], currentDirectory: sub)
        #expect(fromFile.databasePath == folder.path + "/data/from-file.sqlite")
        #expect(fromFile.knowledgeFolders == [folder.path + "/notes", folder.path + "/papers"])
        #expect(fromFile.maxFileSize == 1024 * 1024)
        #expect(fromFile.chunking.maxTokens == 120)

        let fromEnvironment = try Configuration.resolve(environment: ["KB_DB": "/tmp/env.sqlite", "KB_MAX_FILE_SIZE": "2M"], currentDirectory: sub)
        #expect(fromEnvironment.databasePath == "/tmp/env.sqlite")
        #expect(fromEnvironment.maxFileSize == 2 * 1024 * 1024)

        let fromFlag = try Configuration.resolve(.init(databasePath: "flag.sqlite", maxFileSize: 5),
                                                 environment: ["KB_DB": "/tmp/env.sqlite"], currentDirectory: sub)
        #expect(fromFlag.databasePath == sub + "/flag.sqlite")
        #expect(fromFlag.maxFileSize == 5)
    }

    @Test func defaultsWithoutAConfigFile() async throws {
        let folder = TemporaryFolder()
        let configuration = try Configuration.resolve(environment: ["XDG_CONFIG_HOME": folder.path + "/none"], currentDirectory: folder.path)
        #expect(configuration.databasePath == folder.path + "/.kb/kb.sqlite")
        #expect(configuration.maxFileSize == Configuration.defaultMaxFileSize)
    }

    @Test func badConfigSaysWhereAndWhy() async throws {
        let folder = TemporaryFolder()
        let file = folder.write("bad.toml", "database = \n")
        let error = await expectKBError(.configuration) { try Configuration.resolve(.init(configFile: file), environment: [:], currentDirectory: folder.path) }
        #expect(error?.message.hasPrefix("\(file):1: cannot read the value") == true)
    }
}
