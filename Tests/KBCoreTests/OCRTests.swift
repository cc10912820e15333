import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// Images rendered from known text with ImageMagick, so the expected words are known.
enum OCRFixtures {
    static let convert = ["/usr/bin/convert", "/usr/local/bin/convert"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let chineseFont = ["/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"].first { FileManager.default.fileExists(atPath: $0) }
    static let latinFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    static let tesseract = OCREngine.tool != nil && OCREngine.languages.isSuperset(of: ["eng", "chi_sim", "chi_tra"])
    static let available = convert != nil && chineseFont != nil && tesseract && FileManager.default.fileExists(atPath: latinFont)

    static let english = "The stone bridge was built in 1623 and paid for by local merchants. It is forty-two metres long and the oldest surviving bridge in the district."
    static let simplified = "科兰支线铁路于一九六二年停止运营。这座石桥建于一六二三年，由当地商人出资修建，桥长四十二米，是本地区现存最古老的石桥。"
    static let traditional = "這座石橋建於一六二三年，由當地商人出資修建，橋長四十二米，是本地區現存最古老的石橋。臺灣的鐵路經過這裡。"

    /// Renders `text` as a 300-dpi grey image at `path` (12 pt, 8 inches wide); `extra` are ImageMagick operators
    /// applied afterwards (blur, noise).
    @discardableResult
    static func render(_ text: String, font: String, to path: String, extra: [String] = []) async throws -> String {
        try await blocking { try renderNow(text, font: font, to: path, extra: extra) }
    }

    static func renderNow(_ text: String, font: String, to path: String, extra: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: convert!)
        process.arguments = ["-seed", "7", "-font", font, "-pointsize", "12", "-density", "300", "-size", "2400x", "caption:" + text,
                             "-bordercolor", "white", "-border", "60", "-type", "Grayscale"] + extra + [path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    /// Character error rate: edit distance over the reference's length, white space ignored, full-width and
    /// ASCII punctuation treated alike.
    static func characterErrorRate(_ recognised: String, _ reference: String) -> Double {
        func clean(_ text: String) -> [Character] {
            let folded = text.replacingOccurrences(of: "，", with: ",").replacingOccurrences(of: "。", with: ".")
            return Array(folded.filter { !$0.isWhitespace })
        }
        let a = clean(recognised), b = clean(reference)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return Double(a.isEmpty ? b.count : previous[b.count]) / Double(max(1, b.count))
    }
}

@Suite(.serialized) struct OCRTests {
    @Test func wordsJoinWithoutSpacesBetweenChineseCharacters() {
        #expect(OCREngine.joinWords(["这座", "石", "桥", "建于", "1623", "年", "，", "由"]) == "这座石桥建于 1623 年，由")
        #expect(OCREngine.joinWords(["一六二三年", ",", "由"]) == "一六二三年,由")
        #expect(OCREngine.joinWords(["The", "stone", "bridge."]) == "The stone bridge.")
    }

    @Test func tesseractTSVBecomesParagraphsWithConfidence() {
        let tsv = """
            level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext
            1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t
            5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t90\tHello
            5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t80\tworld
            5\t1\t1\t1\t2\t1\t0\t0\t10\t10\t70\tagain
            5\t1\t2\t1\t1\t1\t0\t0\t10\t10\t100\t石桥
            """
        let pages = OCREngine.parseTSV(tsv, languages: "eng")
        #expect(pages.count == 1)
        #expect(pages[0].paragraphs == ["Hello world\nagain", "石桥"])
        #expect(pages[0].characters == 17)
        #expect(abs(pages[0].confidence - (0.9 * 5 + 0.8 * 5 + 0.7 * 5 + 1.0 * 2) / 17) < 1e-9)
    }

    @Test(.enabled(if: OCRFixtures.available, "needs tesseract-ocr with eng, chi_sim, chi_tra, ImageMagick and fonts (scripts/setup.sh --for-tests)"))
    func imagesAreReadInTheirLanguage() async throws {
        let folder = TemporaryFolder()
        let cases: [(String, String, String, Double)] = [
            (OCRFixtures.english, OCRFixtures.latinFont, "en.png", 0.03),
            (OCRFixtures.simplified, OCRFixtures.chineseFont!, "zh-hans.png", 0.08),
            (OCRFixtures.traditional, OCRFixtures.chineseFont!, "zh-hant.jpg", 0.08),
        ]
        for (text, font, name, limit) in cases {
            let path = try await OCRFixtures.render(text, font: font, to: folder.path("docs/" + name))
            let document = try await blocking { try ImageLoader().load(Data(contentsOf: URL(fileURLWithPath: path)), url: URL(fileURLWithPath: path),
                                                  context: LoadContext()) }
            let rate = OCRFixtures.characterErrorRate(document.text, text)
            #expect(rate <= limit, "\(name): CER \(rate) for \(document.text)")
            #expect(document.ocrPages == 1)
            #expect(document.blocks.allSatisfy { if case .ocr(let confidence)? = $0.locator { confidence >= 0.6 } else { false } })
        }
        // The language was decided from the page, not the file name: simplified and traditional characters.
        let simplified = try await blocking { try ImageLoader().load(Data(contentsOf: URL(fileURLWithPath: folder.path("docs/zh-hans.png"))),
                                                url: URL(fileURLWithPath: folder.path("docs/zh-hans.png")), context: LoadContext()) }
        #expect(simplified.text.contains("石桥") && simplified.text.contains("商人"))
        #expect(!simplified.text.contains(" "), "no spaces between Chinese characters: \(simplified.text)")
        let traditional = try await blocking { try ImageLoader().load(Data(contentsOf: URL(fileURLWithPath: folder.path("docs/zh-hant.jpg"))),
                                                 url: URL(fileURLWithPath: folder.path("docs/zh-hant.jpg")), context: LoadContext()) }
        #expect(traditional.text.contains("石橋") && traditional.text.contains("臺灣"))
    }

    @Test(.enabled(if: OCRFixtures.available, "needs tesseract-ocr, ImageMagick and fonts (scripts/setup.sh --for-tests)"))
    func webpAndMultiPageTIFF() async throws {
        let folder = TemporaryFolder()
        let first = try await OCRFixtures.render(OCRFixtures.english, font: OCRFixtures.latinFont, to: folder.path("work/one.png"))
        let second = try await OCRFixtures.render("Gamma rays are photons of very high energy.", font: OCRFixtures.latinFont,
                                            to: folder.path("work/two.png"))
        let webp = try await OCRFixtures.render(OCRFixtures.english, font: OCRFixtures.latinFont, to: folder.path("docs/scan.webp"))
        let read = try await blocking { try ImageLoader().load(Data(contentsOf: URL(fileURLWithPath: webp)), url: URL(fileURLWithPath: webp), context: LoadContext()) }
        #expect(OCRFixtures.characterErrorRate(read.text, OCRFixtures.english) <= 0.03, "\(read.text)")
        // Two pages in one TIFF: each keeps its page.
        let tiff = folder.path("docs/pages.tif")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: OCRFixtures.convert!)
        process.arguments = [first, second, "-compress", "lzw", tiff]
        try process.run()
        try await blocking { process.waitUntilExit() }
        let data = try Data(contentsOf: URL(fileURLWithPath: tiff))
        #expect(ImageLoader.tiffPageCount(data) == 2)
        let pages = PageCounter()
        let document = try await blocking { try ImageLoader().load(data, url: URL(fileURLWithPath: tiff),
                                              context: LoadContext(pageProgress: { pages.record($0, $1) })) }
        #expect(Set(document.blocks.compactMap(\.page)) == [1, 2])
        #expect(document.blocks.first { $0.page == 2 }.map { document.text(of: $0) }?.contains("Gamma rays") == true)
        #expect(pages.calls == [[0, 2], [2, 2]])
        #expect(document.ocrPages == 2)
    }

    @Test(.enabled(if: OCRFixtures.available, "needs tesseract-ocr, ImageMagick and fonts (scripts/setup.sh --for-tests)"))
    func unreadableAndDamagedImagesAreReportedNotIndexed() async throws {
        let folder = TemporaryFolder()
        try await OCRFixtures.render(OCRFixtures.english, font: OCRFixtures.latinFont, to: folder.path("docs/blurred.png"),
                               extra: ["-blur", "0x3.8", "-attenuate", "1.5", "+noise", "Gaussian", "-threshold", "55%"])
        folder.write("docs/fake.png", "this is not an image")
        // A JPEG header claiming 60,000 × 60,000 pixels (a decompression bomb) is refused before OCR.
        folder.write("docs/huge.jpg", Data([0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xEA, 0x60, 0xEA, 0x60, 0x03] + Array(repeating: 0, count: 40)))
        try await OCRFixtures.render(OCRFixtures.english, font: OCRFixtures.latinFont, to: folder.path("docs/good.png"))
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        let failed = Dictionary(uniqueKeysWithValues: summary.failed.map { (($0.path as NSString).lastPathComponent, $0.error) })
        let skipped = Set(summary.skipped.map { ($0.path as NSString).lastPathComponent })
        #expect(failed["fake.png"] == "damaged: not a PNG image (its first bytes do not say so)")
        #expect(failed["huge.jpg"] == "damaged: the image is 60000 × 60000 pixels; kb reads images of up to 60 megapixels")
        // Blurred past reading: either nothing was recognised (skipped) or it was reported as unreadable; never indexed.
        #expect(skipped.contains("blurred.png") || failed["blurred.png"]?.hasPrefix("OCR could not read it: the image: confidence") == true,
                "\(summary.failed) \(summary.skipped)")
        #expect(summary.added == 1)
        let hits = try await kb.search("merchants").results
        #expect(hits.map { ($0.path as NSString).lastPathComponent } == ["good.png"])
        #expect(hits.first?.locator?.hasPrefix("OCR, ") == true)
        #expect((hits.first?.ocrConfidence ?? 0) > 0.8)
    }

    /// A PDF with a text layer on page 1 and `scans` scanned pages after it: JPEGs rendered by ImageMagick, placed
    /// full-page as image XObjects (ImageMagick's own PDF writer is switched off by Debian's policy).
    static func mixedPDF(in folder: TemporaryFolder, scans: Int = 1) async throws -> String {
        var images: [(data: Data, width: Int, height: Int)] = []
        for index in 0..<scans {
            let path = try await OCRFixtures.render(index == 0 ? OCRFixtures.english : "Page \(index + 2) of the scan mentions gamma rays.",
                                              font: OCRFixtures.latinFont, to: folder.path("work/scan\(index).jpg"))
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let size = try #require(ImageLoader.jpegSize(data))
            images.append((data, size.0, size.1))
        }
        var objects: [Data] = []
        func add(_ text: String) { objects.append(Data(text.utf8)) }
        let pageCount = 1 + images.count
        add("<< /Type /Catalog /Pages 2 0 R >>")
        // Object numbers: 3 font; page 1 = 4 (page) + 5 (content); scan k = 6+3k (page), 7+3k (content), 8+3k (image).
        let kids = ["4 0 R"] + (0..<images.count).map { "\(6 + 3 * $0) 0 R" }
        add("<< /Type /Pages /Kids [\(kids.joined(separator: " "))] /Count \(pageCount) >>")
        add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>")
        let stream = "BT /F1 12 Tf 72 720 Td (Alpha particles are helium nuclei.) Tj ET"
        add("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
        for (index, image) in images.enumerated() {
            let width = Double(image.width) * 72 / 300, height = Double(image.height) * 72 / 300
            add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 \(8 + 3 * index) 0 R >> >> /Contents \(7 + 3 * index) 0 R >>")
            let draw = String(format: "q %.2f 0 0 %.2f 0 %.2f cm /Im1 Do Q", width, height, 792 - height)
            add("<< /Length \(draw.utf8.count) >>\nstream\n\(draw)\nendstream")
            var object = Data("<< /Type /XObject /Subtype /Image /Width \(image.width) /Height \(image.height) /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length \(image.data.count) >>\nstream\n".utf8)
            object.append(image.data)
            object.append(Data("\nendstream".utf8))
            objects.append(object)
        }
        var body = Data("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(body.count)
            body.append(Data("\(index + 1) 0 obj\n".utf8)); body.append(object); body.append(Data("\nendobj\n".utf8))
        }
        let xref = body.count
        var tail = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { tail += String(format: "%010d 00000 n \n", offset) }
        tail += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        body.append(Data(tail.utf8))
        return folder.write("docs/mixed.pdf", body)
    }

    @Test(.enabled(if: OCRFixtures.available && PDFTests.available, "needs poppler-utils, tesseract-ocr and ImageMagick"))
    func aPDFWithTextAndScannedPagesGetsBothAndOCRRunsOnce() async throws {
        let folder = TemporaryFolder()
        let path = try await Self.mixedPDF(in: folder)
        let pages = PageCounter()
        let document = try await blocking { try PDFLoader().load(Data(contentsOf: URL(fileURLWithPath: path)), url: URL(fileURLWithPath: path),
                                            context: LoadContext(pageProgress: { done, total in pages.record(done, total) })) }
        #expect(document.blocks.first?.page == 1 && document.blocks.first?.locator == nil)
        #expect(document.text.contains("Alpha particles are helium nuclei."))
        let scanned = document.blocks.filter { $0.page == 2 }
        #expect(!scanned.isEmpty && scanned.allSatisfy { $0.locator != nil })
        #expect(document.text.contains("paid for by local merchants"))
        #expect(pages.calls == [[0, 1], [1, 1]])

        // Through an ingest: the citation says the page came from OCR; a second ingest reads nothing again.
        try FileManager.default.removeItem(atPath: folder.path + "/work")
        let kb = try folder.knowledgeBase()
        let progress = PageCounter()
        let first = try await kb.ingest(embed: false, progress: { if $0.phase == .ocr { progress.record($0.done, $0.total) } })
        #expect(first.added == 1 && first.ocrPages == 1)
        #expect(!progress.calls.isEmpty)
        let hit = try #require(try await kb.search("merchants").results.first)
        #expect(hit.page == 2)
        #expect(hit.locator?.hasPrefix("p. 2, OCR, ") == true)
        await #expect(try kb.search("helium").results.first?.locator == nil)
        let again = PageCounter()
        let second = try await kb.ingest(embed: false, progress: { if $0.phase == .ocr { again.record($0.done, $0.total) } })
        #expect(second.unchanged == 1 && second.ocrPages == 0)
        #expect(again.calls.isEmpty)
        // Touched but not changed: the hash matches, still no OCR.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: path)
        let third = try await kb.ingest(embed: false, progress: { if $0.phase == .ocr { again.record($0.done, $0.total) } })
        #expect(third.unchanged == 1 && again.calls.isEmpty)
    }

    @Test(.enabled(if: OCRFixtures.available && PDFTests.available, "needs poppler-utils, tesseract-ocr and ImageMagick"))
    func ocrOffAndPageBudgetsAreReported() async throws {
        let folder = TemporaryFolder()
        let path = try await Self.mixedPDF(in: folder, scans: 2)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let url = URL(fileURLWithPath: path)
        // OCR off: the text page is indexed, the scans are reported.
        let off = try await blocking { try PDFLoader().load(data, url: url, context: LoadContext(ocr: OCROptions(enabled: false))) }
        #expect(off.blocks.allSatisfy { $0.page == 1 })
        #expect(off.warnings == ["pp. 2, 3 have no text layer and OCR is off; not indexed"])
        #expect(PDFLoader().version(for: LoadContext(ocr: OCROptions(enabled: false))) != PDFLoader().version(for: LoadContext()))
        // A page limit of one: page 2 is read, page 3 is reported.
        let limited = try await blocking { try PDFLoader().load(data, url: url, context: LoadContext(ocr: OCROptions(maxPages: 1))) }
        #expect(Set(limited.blocks.compactMap(\.page)) == [1, 2])
        #expect(limited.warnings == ["OCR read 1 of 2 scanned pages (the limit is --ocr-max-pages 1); p. 3 not indexed"])
        // A budget of one second per page is too short for a full-width 300-dpi line of text on this kind of machine
        // only sometimes, so the message is checked when it happens and the page is then not indexed.
        let hurried = try await blocking { try PDFLoader().load(data, url: url, context: LoadContext(ocr: OCROptions(secondsPerPage: 1))) }
        for warning in hurried.warnings {
            #expect(warning.contains("OCR did not finish within 1 s") && warning.hasSuffix("unreadable, not indexed"), "\(warning)")
        }
        #expect(hurried.blocks.filter { $0.page != 1 }.count + hurried.warnings.count >= 2)
    }

    @Test(.enabled(if: OCRFixtures.available, "needs tesseract-ocr"))
    func ocrOffSkipsImagesAndReportsScans() async throws {
        let folder = TemporaryFolder()
        try await OCRFixtures.render(OCRFixtures.english, font: OCRFixtures.latinFont, to: folder.path("docs/en.png"))
        let kb = try folder.knowledgeBase { $0.ocr.enabled = false }
        let summary = try await kb.ingest(embed: false)
        #expect(summary.added == 0)
        #expect(summary.skipped.map(\.reason) == ["unsupported file type image (OCR is off: --no-ocr or ocr = false)"])
    }
}

/// Runs blocking work (tesseract, ImageMagick, LibreOffice) on a thread of its own: on two cores a test that
/// blocked Swift's cooperative threads for seconds starved the tests beside it (a daemon test's poll missed its moment).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Records page-progress calls from a loader.
final class PageCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [[Int]] = []
    func record(_ done: Int, _ total: Int) { lock.lock(); recorded.append([done, total]); lock.unlock() }
    var calls: [[Int]] { lock.lock(); defer { lock.unlock() }; return recorded }
}
