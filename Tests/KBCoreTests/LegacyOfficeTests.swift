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
}
