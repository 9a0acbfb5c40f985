"""Golden tests for zsmalloc's class table (zsmalloc.md §2, §9, §11; Documentation/mm/zsmalloc.rst).

Which chooser produces which published table: the kernel documentation's chain-size table
(4→69, 8→123, 16→191 classes) is the pre-6.3 ``used-percent`` rule; the current code
(``min-waste``, v6.3+) gives 119 classes at chain 8, 141 at 10, 192 at 16 (Sergey
Senozhatsky, LKML, Feb 2023).
"""

from __future__ import annotations

import pytest

from allocators.zsmalloc_classes import ClassTable

# zsmalloc.md §2.1, chain 8, min-waste (index:size/pages_per_zspage/objs_per_zspage)
CHAIN8_TABLE = """
0:32/1/128     1:48/3/256     2:64/1/64      3:80/5/256     4:96/3/128     5:112/7/256
6:128/1/32     7:144/7/199    8:160/5/128    9:176/4/93     10:192/3/64    11:208/3/59
12:224/7/128   13:240/1/17    14:256/1/16    15:272/1/15    16:288/5/71    17:304/7/94
18:320/5/64    19:336/6/73    20:352/8/93    21:368/8/89    22:384/3/32    23:400/5/51
24:416/6/59    25:432/7/66    26:448/7/64    27:464/5/44    28:480/2/17    29:496/4/33
30:512/1/8     31:528/4/31    32:544/2/15    33:560/7/51    34:576/1/7     35:592/8/55
36:608/7/47    37:624/2/13    38:640/5/32    39:656/5/31    40:672/1/6     41:688/8/47
42:704/5/29    43:720/3/17    44:736/2/11    45:752/7/38    46:768/3/16    47:784/5/26
49:816/1/5     50:832/8/39    51:848/5/24    52:864/7/33    53:880/8/37    54:896/7/32
55:912/7/31    56:928/5/22    57:944/3/13    58:960/4/17    59:976/6/25    60:992/8/33
62:1024/1/4    64:1056/8/31   65:1072/5/19   66:1088/4/15   67:1104/3/11   68:1120/8/29
69:1136/5/18   71:1168/2/7    72:1184/7/24   73:1200/5/17   74:1216/3/10   75:1232/7/23
76:1248/4/13   78:1280/5/16   79:1296/7/22   83:1360/1/3    87:1424/8/23   88:1440/6/17
89:1456/5/14   91:1488/4/11   92:1504/7/19   94:1536/3/8    95:1552/8/21   96:1568/5/13
97:1584/7/18   100:1632/2/5   103:1680/7/17  104:1696/5/12  105:1712/8/19  107:1744/3/7
110:1792/7/16  111:1808/4/9   114:1856/5/11  116:1888/6/13  117:1904/7/15  118:1920/8/17
126:2048/1/2   134:2176/8/15  135:2192/7/13  137:2224/6/11  140:2272/5/9   144:2336/4/7
147:2384/7/12  151:2448/3/5   155:2512/8/13  158:2560/5/8   160:2592/7/11  168:2720/2/3
177:2864/7/10  180:2912/5/7   184:2976/8/11  190:3072/3/4   197:3184/7/9   202:3264/4/5
211:3408/5/6   217:3504/6/7   222:3584/7/8   225:3632/8/9   254:4096/1/1
"""

# chain: (classes min-waste, classes used-percent, largest normal class) — zsmalloc.md §2.2
COUNTS_4K = {
    4: (69, 69, 3264), 5: (86, 86, 3408), 6: (94, 93, 3504), 7: (110, 112, 3584),
    8: (119, 123, 3632), 9: (136, 140, 3680), 10: (141, 143, 3712), 11: (153, 159, 3744),
    12: (159, 164, 3776), 13: (173, 180, 3792), 14: (179, 183, 3808), 15: (186, 188, 3840),
    16: (192, 191, 3840),
}


def test_chain8_table_exact():
    expected = [tuple(int(x) for x in e.replace(":", "/").split("/")) for e in CHAIN8_TABLE.split()]
    table = ClassTable(4096, 8)
    got = [(c.index, c.size, c.pages_per_zspage, c.objs_per_zspage) for c in table.classes]
    assert got == expected
    assert table.huge_class_size == 3625 and table.huge_watermark == 3632
    assert table.n_slots == 255 and table.class_delta == 16


@pytest.mark.parametrize("chain", sorted(COUNTS_4K))
def test_class_counts_both_choosers(chain):
    min_waste, used_percent, watermark = COUNTS_4K[chain]
    a = ClassTable(4096, chain, 0, "min-waste")
    b = ClassTable(4096, chain, 0, "used-percent")
    assert len(a.classes) == min_waste
    assert len(b.classes) == used_percent
    assert a.huge_watermark == b.huge_watermark == watermark
    assert a.huge_class_size == b.huge_class_size == watermark - 7


def test_doc_table_is_used_percent():
    """Documentation/mm/zsmalloc.rst: pages per zspage / classes / huge watermark."""
    doc = {4: (69, 3264), 5: (86, 3408), 6: (93, 3504), 7: (112, 3584), 8: (123, 3632),
           9: (140, 3680), 10: (143, 3712), 11: (159, 3744), 12: (164, 3776), 13: (180, 3792),
           14: (183, 3808), 15: (188, 3840), 16: (191, 3840)}
    for chain, (n, mark) in doc.items():
        t = ClassTable(4096, chain, 0, "used-percent")
        assert (len(t.classes), t.huge_watermark) == (n, mark)


def test_class_1568_and_208_waste_from_doc():
    """Documentation/mm/zsmalloc.rst: class 1568 wastes 960/352/1312/704/96 B for 1..5 pages."""
    assert [(n * 4096) % 1568 for n in range(1, 6)] == [960, 352, 1312, 704, 96]
    t = ClassTable(4096, 5)
    c = t.class_for_payload(1568 - 8)
    assert (c.size, c.pages_per_zspage, t.waste_bytes(c)) == (1568, 5, 96)


@pytest.mark.parametrize("payload,cls", [
    (1, (0, 32, 1, 128)), (24, (0, 32, 1, 128)), (25, (1, 48, 3, 256)), (100, (5, 112, 7, 256)),
    (2000, (126, 2048, 1, 2)), (3000, (190, 3072, 3, 4)), (3624, (225, 3632, 8, 9)),
    (3625, (254, 4096, 1, 1)), (4096, (254, 4096, 1, 1)),
])
def test_class_lookup_worked_examples(payload, cls):
    c = ClassTable(4096, 8).class_for_payload(payload)
    assert (c.index, c.size, c.pages_per_zspage, c.objs_per_zspage) == cls


def test_chain4_lookup_examples():
    mw = ClassTable(4096, 4, 0, "min-waste")
    up = ClassTable(4096, 4, 0, "used-percent")
    c = mw.class_for_payload(100)
    assert (c.size, c.pages_per_zspage, c.objs_per_zspage) == (112, 2, 73)
    c = mw.class_for_payload(200)
    assert (c.index, c.size, c.pages_per_zspage, c.objs_per_zspage) == (11, 208, 3, 59)
    c = up.class_for_payload(200)
    assert (c.index, c.size, c.pages_per_zspage, c.objs_per_zspage) == (11, 208, 2, 39)
    assert mw.huge_class_size == 3257 and mw.class_for_payload(3257).objs_per_zspage == 1
    assert mw.class_for_payload(3256).size == 3264
    # the two choosers differ at chain 4 for exactly one size (208)
    diff = [(a.size) for a, b in zip(mw.classes, up.classes) if a != b]
    assert diff == [208]


def test_chain16_and_merging_keeps_larger_size():
    t = ClassTable(4096, 16)
    assert len(t.classes) == 192 and t.huge_class_size == 3833
    # every slot maps to a class at least as large as the slot's nominal size
    for i, k in enumerate(t.slot_class):
        assert t.classes[k].size >= min(32 + 16 * i, 4096) and t.classes[k].index >= i


# Larger pages (DERIVED from the same rules; delta = page_size >> 8, 257 slots):
# (page_size, chain) -> (classes min-waste, classes used-percent, huge_class_size)
COUNTS_BIG = {
    (16384, 4): (70, 70, 13081), (16384, 8): (121, 123, 14553), (16384, 16): (192, 198, 15385),
    (65536, 4): (72, 72, 52249), (65536, 8): (123, 123, 58137), (65536, 16): (191, 193, 61465),
}


@pytest.mark.parametrize("key", sorted(COUNTS_BIG))
def test_large_pages(key):
    page_size, chain = key
    mw_n, up_n, huge = COUNTS_BIG[key]
    a = ClassTable(page_size, chain, 0, "min-waste")
    b = ClassTable(page_size, chain, 0, "used-percent")
    assert (len(a.classes), len(b.classes), a.huge_class_size) == (mw_n, up_n, huge)
    assert a.class_delta == page_size >> 8 and a.n_slots == 257
    assert a.classes[0].size == 32 and a.classes[-1].size == page_size
    assert a.classes[-1].index == 256 and a.classes[-1].objs_per_zspage == 1


def test_large_pages_hand_checked():
    # 16 KiB, chain 8: delta 64; the largest normal class is huge_class_size + 7 = 14560
    t = ClassTable(16384, 8)
    c = t.class_for_payload(t.huge_class_size - 1)
    assert c.size == 14560 == 32 + 227 * 64
    # 14560 is not a power of two; waste (n*16384) % 14560 is smallest at n = 8: 131072 % 14560 = 32
    assert (c.pages_per_zspage, c.objs_per_zspage) == (8, 9)
    assert min(range(1, 9), key=lambda n: ((n * 16384) % 14560, n)) == 8
    # 64 KiB pages: class 32 holds 2048 objects in one page
    t = ClassTable(65536, 4)
    c = t.class_for_payload(1)
    assert (c.size, c.pages_per_zspage, c.objs_per_zspage) == (32, 1, 2048)
    assert t.class_for_payload(65536).index == 256


def test_bad_parameters():
    with pytest.raises(ValueError):
        ClassTable(4096, 8, 0, "nope")
    with pytest.raises(ValueError):
        ClassTable(4096, 8, 12)


def test_classes_command(capsys):
    from zdensity.cli import main
    assert main(["classes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("119 classes") and "huge watermark 3632" in out[-1]
    assert "huge_class_size 3625" in out[-1] and len(out) == 1 + 119 + 1
    assert main(["classes", "--chain-size", "16", "--chain-rule", "used-percent", "--csv"]) == 0
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    assert lines[0] == "class,size,pages_per_zspage,objs_per_zspage,waste_bytes" and len(lines) == 192
    assert cap.err.startswith("191 classes")
    assert main(["classes", "--chain-size", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("69 classes")
    assert main(["classes", "--chain-size", "17"]) == 2


def test_handle_size_moves_the_huge_threshold():
    t = ClassTable(4096, 8, 0, "min-waste", handle_size=0)
    assert t.huge_class_size == 3633 and t.class_for_payload(3632).size == 3632
    assert t.class_for_payload(3633).objs_per_zspage == 1
