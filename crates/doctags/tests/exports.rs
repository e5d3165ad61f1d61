//! HTML, plain text and JSON: ours (docling-core is the reference for Markdown only), so
//! these tests pin the exact output a page or a program gets.

const PAGE: &str = "<doctag><page_header><loc_1><loc_1><loc_99><loc_5>Header</page_header>
<section_header_level_1><loc_10><loc_10><loc_490><loc_20>Results & <more></section_header_level_1>
<text><loc_10><loc_30><loc_490><loc_40>First line
second line</text>
<otsl><loc_10><loc_50><loc_490><loc_90><ched>Region<ched>2024<lcel><nl><ucel><ched>Q1<ched>Q2<nl><rhed>North<fcel>1<ecel><nl><caption><loc_10><loc_95><loc_490><loc_99>Sales</caption></otsl>
<unordered_list><list_item><loc_10><loc_100><loc_490><loc_110>one</list_item><list_item><loc_10><loc_110><loc_490><loc_120>two</list_item></unordered_list>
<code><loc_10><loc_130><loc_490><loc_140><_Python_>print(1 < 2)</code>
<page_break>
<picture><loc_10><loc_10><loc_490><loc_200><bar_chart><caption><loc_10><loc_205><loc_490><loc_215>Figure 1</caption></picture>
<formula><loc_10><loc_220><loc_490><loc_230>x^2</formula>
<text><loc_10><loc_240><loc_490><loc_250>Cut in the mid";

#[test]
fn html_has_spans_headers_figures_and_escapes_everything() {
    let html = doctags::to_html(&doctags::parse(PAGE));
    let expected = r#"<section class="doctags-page" data-page="1">
<h2 data-bbox="10 10 490 20">Results &amp;</h2>
<p data-bbox="10 30 490 40">First line<br>
second line</p>
<table data-bbox="10 50 490 90">
<caption>Sales</caption>
<tr><th scope="col" rowspan="2">Region</th><th scope="col" colspan="2">2024</th></tr>
<tr><th scope="col">Q1</th><th scope="col">Q2</th></tr>
<tr><th scope="row">North</th><td>1</td><td></td></tr>
</table>
<ul data-bbox="10 100 490 110">
<li>one</li>
<li>two</li>
</ul>
<pre data-bbox="10 130 490 140"><code class="language-python">print(1 &lt; 2)</code></pre>
</section>
<section class="doctags-page" data-page="2">
<figure class="picture" data-bbox="10 10 490 200" data-class="bar_chart">
<figcaption>Figure 1</figcaption>
</figure>
<div class="formula" data-bbox="10 220 490 230">$$x^2$$</div>
<p data-bbox="10 240 490 250" data-unfinished>Cut in the mid</p>
</section>
"#;
    assert_eq!(html, expected);
}

#[test]
fn html_escapes_quotes_and_markup_in_text() {
    let html = doctags::to_html(&doctags::parse(
        r#"<text>"a" & 'b' <script>x</script> 1 < 2</text>"#,
    ));
    assert_eq!(
        html,
        "<section class=\"doctags-page\" data-page=\"1\">\n<p>&quot;a&quot; &amp; &#39;b&#39; x 1 &lt; 2</p>\n</section>\n"
    );
}

#[test]
fn text_is_the_reading_text_with_tab_separated_tables() {
    let text = doctags::to_text(&doctags::parse(PAGE));
    let expected = "Results &\n\nFirst line\nsecond line\n\nSales\nRegion\t2024\t\n\tQ1\tQ2\nNorth\t1\t\n\n- one\n- two\n\nprint(1 < 2)\n\nFigure 1\n\nx^2\n\nCut in the mid";
    assert_eq!(text, expected);
}

#[test]
fn json_lists_every_block_with_page_kind_bbox_and_table_rows() {
    let json: serde_json::Value =
        serde_json::from_str(&doctags::to_json(&doctags::parse(PAGE))).unwrap();
    assert_eq!(json["pages"], 2);
    let blocks = json["blocks"].as_array().unwrap();
    let kinds: Vec<(u64, &str)> = blocks
        .iter()
        .map(|b| (b["page"].as_u64().unwrap(), b["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "page_header"),
            (1, "section_header"),
            (1, "text"),
            (1, "table"),
            (1, "unordered_list"),
            (1, "code"),
            (2, "picture"),
            (2, "formula"),
            (2, "text")
        ]
    );
    assert_eq!(blocks[1]["level"], 1);
    assert_eq!(blocks[1]["bbox"], serde_json::json!([10, 10, 490, 20]));
    assert_eq!(blocks[5]["language"], "Python");
    assert_eq!(blocks[6]["classification"], "bar_chart");
    assert_eq!(blocks[8]["complete"], false);
    let table = &blocks[3]["table"];
    assert_eq!(
        (table["num_rows"].as_u64(), table["num_cols"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        table["rows"][0],
        serde_json::json!([
            {"row": 0, "col": 0, "row_span": 2, "col_span": 1, "text": "Region", "kind": "column_header"},
            {"row": 0, "col": 1, "row_span": 1, "col_span": 2, "text": "2024", "kind": "column_header"}
        ])
    );
    assert_eq!(table["rows"][2][1]["kind"], "data");
    assert_eq!(table["rows"][2][2]["kind"], "empty");
    assert_eq!(blocks[3]["caption"]["text"], "Sales");
}

#[test]
fn markdown_can_show_an_unfinished_element() {
    let doc = doctags::parse(
        "<doctag><text>done</text><otsl><ched>a<ched>b<nl><fcel>1<fcel>2<nl><fcel>3<fc",
    );
    assert_eq!(doctags::to_markdown(&doc), "done");
    let keep = doctags::MarkdownOptions {
        keep_unfinished: true,
    };
    assert_eq!(
        doctags::to_markdown_with(&doc, keep),
        "done\n\n|   a |   b |\n|-----|-----|\n|   1 |   2 |\n|   3 |     |"
    );
}

#[test]
fn garbage_never_panics_and_keeps_known_elements() {
    for input in [
        "",
        "<",
        "<<>>",
        "</doctag>",
        "<loc_",
        "<otsl><nl><nl><lcel><ucel><xcel>",
        "<inline><inline>",
        "\u{1c}<text>\u{a0}x\u{2028}</text>",
    ] {
        let doc = doctags::parse(input);
        let _ = (
            doctags::to_markdown(&doc),
            doctags::to_html(&doc),
            doctags::to_text(&doc),
            doctags::to_json(&doc),
        );
    }
    assert_eq!(
        doctags::to_text(&doctags::parse("junk <b>x</b> <text>kept</text> junk")),
        "kept"
    );
}
