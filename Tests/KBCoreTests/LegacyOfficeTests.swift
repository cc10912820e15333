import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct LegacyOfficeTests {
    static let libreOffice = ExternalTool.find("soffice", "libreoffice") != nil

    @Test(.enabled(if: !libreOffice, "LibreOffice is installed: old Office files are converted instead"))
    func oldOfficeFilesAreSkippedWithTheLibreOfficeHint() async throws {
        let folder = TemporaryFolder()
        let ole = Data([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) + Data(repeating: 0, count: 504)
        folder.write("docs/report.doc", ole)
        folder.write("docs/budget.xls", ole)
        folder.write("docs/fake.ppt", "plain text under a .ppt name")
        folder.write("docs/note.md", "A note.\n")
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        let skipped = Dictionary(uniqueKeysWithValues: summary.skipped.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        #expect(skipped["report.doc"]?.hasPrefix("unsupported file type .doc (old binary Office format: install LibreOffice") == true,
                "\(skipped)")
        #expect(skipped["budget.xls"]?.contains("libreoffice-calc-nogui") == true)
        let failed = Dictionary(uniqueKeysWithValues: summary.failed.map { (($0.path as NSString).lastPathComponent, $0.error) })
        #expect(failed["fake.ppt"] == "damaged: not an old binary Office file (no OLE compound-file signature)")
        #expect(summary.added == 1)
    }

    @Test func encryptedAndOldWordFilesUnderDocxAreNamed() {
        let ole = Data(ZipContainer.oleSignature) + Data(repeating: 0, count: 504)
        let encrypted = ole + Data("EncryptedPackage".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        let url = URL(fileURLWithPath: "/report.docx")
        #expect(throws: LoadFailure.protected("the Word document")) { try DOCXLoader().load(encrypted, url: url) }
        #expect(throws: LoadFailure.damaged("the file is an old binary Office file (Word 97–2003 .doc), not a .docx document")) {
            try DOCXLoader().load(ole, url: url)
        }
    }

    /// Makes an old binary Office file with LibreOffice itself (from an RTF or a CSV written here), then ingests it.
    @Test(.enabled(if: libreOffice, "needs LibreOffice (not installed by setup; see the README)"))
    func oldOfficeFilesAreConvertedWithLibreOffice() async throws {
        let folder = TemporaryFolder()
        let rtf = folder.write("work/report.rtf", "{\\rtf1\\ansi{\\fonttbl{\\f0 Helvetica;}}\\f0 The quarterly report mentions the Lisbon office.\\par}")
        let csv = folder.write("work/budget.csv", "item,amount\nprinter toner,340\n")
        let soffice = try #require(ExternalTool.find("soffice", "libreoffice"))
        for (source, target) in [(rtf, "doc"), (csv, "xls")] {
            let profile = URL(fileURLWithPath: folder.path("work/profile")).absoluteString
            let home = folder.path + "/work", outdir = folder.path + "/docs"
            let output = try await blocking { try ExternalTool.run(soffice, ["-env:UserInstallation=\(profile)", "--headless", "--convert-to", target,
                                                        "--outdir", outdir, source],
                                              timeout: 180, environment: ["HOME": home], label: "LibreOffice") }
            #expect(output.status == 0, "\(output.stderr)")
        }
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        #expect(summary.added == 2, "\(summary.failed) \(summary.skipped)")
        let doc = try #require(try await kb.search("Lisbon office").results.first)
        #expect(doc.path.hasSuffix("report.doc"))
        let xls = try #require(try await kb.search("toner").results.first)
        #expect(xls.path.hasSuffix("budget.xls"))
        #expect(xls.text.contains("amount: 340"))
        #expect(xls.locator?.hasPrefix("sheet ") == true)
    }
}
