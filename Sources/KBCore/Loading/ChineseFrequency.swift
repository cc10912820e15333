/// The most frequent Chinese characters, simplified and traditional, used to tell a correct
/// GB18030 or Big5 decoding (mostly common characters) from a wrong one (mostly rare ones).
enum ChineseFrequency {
    private static let common: Set<Character> = Set(
        "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音容议观况"
        + "這們個來說國為時會後對與過還學發經從動兩長現將體別處總師書員華報馬張難數產開車應問題間關門東聽見話讓認論愛實點種聲務於無萬樣請氣進區義裡裏當傳電視讀給錢網頁鐘線術條計記設確識護壓態運達邊過選擇標準協價歷戰營隊層臺灣號葉華陽"
        + "，。、；：？！“”（）《》"
    )

    /// The share of non-ASCII characters in `text` that are among the most common Chinese characters.
    static func commonRatio(_ text: String) -> Double {
        var nonASCII = 0
        var hits = 0
        for character in text where !character.isASCII && !character.isWhitespace {
            nonASCII += 1
            if common.contains(character) { hits += 1 }
        }
        return nonASCII == 0 ? 0 : Double(hits) / Double(nonASCII)
    }
}
