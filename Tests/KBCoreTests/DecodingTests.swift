import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct EncodingDetectionTests {
    static let chinese = "知识库助手可以回答问题。我们在这里测试中文编码的识别，这是一个简单的句子。\n"
    static let traditional = "知識庫助手可以回答問題。我們在這裡測試中文編碼的識別，這是一個簡單的句子。\n"
    static let latin = "The café served crème brûlée — naïve “smart quotes” cost 4,25 €.\n"

    @Test(arguments: [
        ("utf8.txt", "utf-8", chinese),
        ("utf8_bom.txt", "utf-8", chinese),
        ("utf16le_bom.txt", "utf-16le", latin + chinese),
        ("utf16be_bom.txt", "utf-16be", latin + chinese),
        ("utf16le_nobom.txt", "utf-16le", "Plain ASCII mostly, in UTF-16 without a byte-order mark.\nSecond line.\n"),
        ("utf16be_nobom.txt", "utf-16be", "Plain ASCII mostly, in UTF-16 without a byte-order mark.\nSecond line.\n"),
        ("gb18030.txt", "gb18030", chinese),
        ("big5.txt", "big5", traditional),
        ("cp1252.txt", "windows-1252", latin),
    ])
    func detects(_ file: String, _ encoding: String, _ text: String) throws {
        let decoded = try TextDecoder.decode(Fixtures.data("encodings/" + file))
        #expect(decoded.encoding == encoding)
        #expect(decoded.text == text)
    }

    @Test func normalisesLineEndingsAndUnicode() async throws {
        let decoded = try TextDecoder.decode(Fixtures.data("encodings/crlf_nfd.txt"))
        #expect(decoded.text == "Caf\u{E9} line one\nline two\nline three\n")
        #expect(decoded.text.unicodeScalars.count == decoded.text.precomposedStringWithCanonicalMapping.unicodeScalars.count)
    }

    @Test func binaryUnderTextExtensionIsRejected() async throws {
        #expect(throws: LoadFailure.binary("PNG image")) { try TextDecoder.decode(Fixtures.data("encodings/png_named.txt")) }
        #expect(throws: LoadFailure.self) { try TextDecoder.decode(Data([0x41, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x42, 0x00, 0x01])) }
    }

    @Test func declaredCharsetIsOnlyAHint() async throws {
        let lie = Fixtures.data("encodings/charset_lie.html")
        #expect(TextDecoder.declaredCharset(in: lie) == "gb2312")
        #expect(try TextDecoder.decode(lie, declaredCharset: "gb2312").encoding == "utf-8")
        let honest = Fixtures.data("encodings/gbk_declared.html")
        #expect(TextDecoder.declaredCharset(in: honest) == "gbk")
        let decoded = try TextDecoder.decode(honest, declaredCharset: "gbk")
        #expect(decoded.encoding == "gb18030")
        #expect(decoded.text.contains("知识库助手"))
    }

    @Test func htmlLoaderIgnoresTheLie() async throws {
        let document = try HTMLLoader().load(Fixtures.data("encodings/charset_lie.html"), url: URL(fileURLWithPath: "/x.html"))
        #expect(document.encoding == "utf-8")
        #expect(document.title == "编码")
        #expect(document.text.contains("知识库助手可以回答问题"))
    }
}
