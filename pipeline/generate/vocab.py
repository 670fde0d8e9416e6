"""Word lists and code tables the synthetic population is drawn from.

The province is Hunan and the provincial capital is Changsha: customers live mostly in
Changsha's districts and counties (region codes 4301xx) and were born all over the province
and beyond, as resident ID numbers show. Lists are plain tuples so that draws stay
deterministic for a given seed.
"""

from __future__ import annotations

SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤欧阳"
)
"""Common surnames, most frequent first (draws use a Zipf-like weight)."""

# 弢 珅 東 億 have 0x7C ('|') as the second GB18030 byte: a parser that splits bytes before
# decoding breaks on them, so they must appear in the data.
PIPE_BYTE_CHARS: tuple[str, ...] = ("弢", "珅", "東", "億")

GIVEN_MALE: tuple[str, ...] = (
    *tuple("伟强磊军洋勇杰涛明超刚建国志文斌辉鹏宇浩凯俊帅博昊天宏飞海波峰毅鑫睿轩宸晨阳林"),
    *PIPE_BYTE_CHARS,
)
GIVEN_FEMALE: tuple[str, ...] = (
    *tuple("芳娜敏静丽艳娟秀霞平桂英华玉兰萍红婷雪梅琳欣怡佳琪涵梓萱瑶颖慧倩莉丹璐思雨"),
    *PIPE_BYTE_CHARS,
)

# Changsha districts and counties (region_code of residence).
HOME_REGIONS: tuple[str, ...] = (
    "430102",
    "430103",
    "430104",
    "430105",
    "430111",
    "430112",
    "430121",
    "430181",
    "430182",
)
HOME_REGION_NAMES: dict[str, str] = {
    "430102": "芙蓉",
    "430103": "天心",
    "430104": "岳麓",
    "430105": "开福",
    "430111": "雨花",
    "430112": "望城",
    "430121": "长沙县",
    "430181": "浏阳",
    "430182": "宁乡",
}
# Elsewhere in Hunan (some customers live there, many were born there).
PROVINCE_REGIONS: tuple[str, ...] = (
    "430202",
    "430211",
    "430302",
    "430321",
    "430405",
    "430421",
    "430502",
    "430521",
    "430602",
    "430621",
    "430702",
    "430721",
    "430802",
    "430902",
    "430921",
    "431002",
    "431021",
    "431102",
    "431121",
    "431202",
    "431221",
    "431302",
    "431321",
    "433101",
)
# Other provinces' capitals and cities (birth places only).
OTHER_BIRTH_REGIONS: tuple[str, ...] = (
    "360102",
    "420102",
    "440106",
    "450102",
    "500103",
    "520102",
    "110105",
    "310104",
    "410105",
    "510104",
)

# Own bank's code is configured; these are other banks' CNAPS-like codes.
OTHER_BANKS: tuple[str, ...] = (
    "103",
    "104",
    "105",
    "301",
    "302",
    "303",
    "305",
    "308",
    "313",
    "402",
    "403",
)

MARKETS: tuple[str, ...] = (
    "高桥大市场",
    "马王堆批发市场",
    "红星农贸市场",
    "南湖小商品城",
    "金霞建材市场",
    "黄兴农产品物流园",
    "三湘南湖服装城",
    "长沙汽配城",
    "万家丽家居市场",
    "湘江茶叶批发市场",
    "雨花五金机电市场",
    "星沙小商品城",
)
STREETS: tuple[str, ...] = (
    "五一",
    "解放",
    "芙蓉",
    "韶山",
    "劳动",
    "人民",
    "东风",
    "湘江",
    "八一",
    "蔡锷",
    "黄兴",
    "岳麓",
    "麓山",
    "枫林",
    "银盆",
    "金星",
    "万家丽",
    "远大",
    "车站",
    "桐梓坡",
    "书院",
    "井湾子",
)

# Employers: prefix + body + suffix gives e.g. 长沙恒泰科技有限公司.
EMPLOYER_BODIES: tuple[str, ...] = (
    "恒泰",
    "华远",
    "中联",
    "湘电",
    "金博",
    "远景",
    "楚天",
    "麓谷",
    "星城",
    "三一",
    "长丰",
    "天元",
    "宏达",
    "信和",
    "博雅",
    "湘江",
    "顺通",
    "开元",
    "瑞丰",
    "鼎盛",
)
EMPLOYER_SUFFIXES: tuple[str, ...] = (
    "科技有限公司",
    "建设集团有限公司",
    "物流有限公司",
    "医药有限公司",
    "商贸有限公司",
    "机械股份有限公司",
    "电子有限公司",
    "餐饮管理有限公司",
    "房地产开发有限公司",
    "教育咨询有限公司",
)
PUBLIC_EMPLOYERS: tuple[str, ...] = (
    "长沙市财政局",
    "长沙市第一医院",
    "湖南省人民医院",
    "长沙市第一中学",
    "湖南大学",
    "中南大学",
    "长沙市税务局",
    "湖南师范大学",
    "长沙市中心医院",
    "雨花区人民政府",
)
HIGH_PAY_EMPLOYERS: tuple[str, ...] = (
    "中信证券湖南分公司",
    "湘雅医院",
    "长沙金杜律师事务所",
    "华为技术长沙研究所",
    "普华会计师事务所",
)
PENSION_PAYER = "长沙市社会保险服务中心"

# Trade goods for merchants' suppliers and buyers (某某批发商行, 某某食品有限公司 ...).
GOODS: tuple[str, ...] = (
    "食品",
    "副食",
    "蔬菜",
    "水产",
    "茶叶",
    "服装",
    "五金",
    "建材",
    "日杂",
    "干货",
    "粮油",
    "水果",
    "汽配",
    "家电",
    "鞋业",
    "布艺",
)
SUPPLIER_SUFFIXES: tuple[str, ...] = (
    "批发商行",
    "食品有限公司",
    "贸易有限公司",
    "经营部",
    "商贸行",
)
BUYER_SUFFIXES: tuple[str, ...] = ("便利店", "超市", "餐馆", "商店", "小卖部", "经营部", "批发部")

# POS merchant categories: mcc, weight, median spend in CNY, shop name stem.
MCCS: tuple[tuple[str, float, float, str], ...] = (
    ("5411", 0.26, 85.0, "超市"),
    ("5812", 0.20, 70.0, "餐厅"),
    ("5541", 0.08, 260.0, "加油站"),
    ("5311", 0.06, 320.0, "百货"),
    ("5732", 0.03, 1400.0, "电器"),
    ("4111", 0.08, 12.0, "公交地铁"),
    ("5912", 0.06, 55.0, "大药房"),
    ("8062", 0.04, 380.0, "医院"),
    ("8220", 0.02, 2200.0, "培训学校"),
    ("5977", 0.04, 260.0, "化妆品"),
    ("7011", 0.04, 420.0, "酒店"),
    ("4722", 0.02, 1800.0, "旅行社"),
    ("5651", 0.07, 240.0, "服饰"),
)

BILLERS: tuple[str, ...] = (
    "国网长沙供电公司",
    "长沙水业集团",
    "新奥燃气长沙公司",
    "中国移动湖南公司",
    "中国电信长沙分公司",
    "中国联通长沙分公司",
    "长沙广电网络",
    "物业管理服务中心",
)

INDUSTRIES: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRST")

# Shop name templates per MCC; {place} district, {street} street, {owner} surname-based brand.
SHOP_TEMPLATES: dict[str, tuple[str, ...]] = {
    "5411": ("步步高{street}店", "{owner}记超市", "家润多{place}店", "{street}路便民超市"),
    "5812": ("{owner}记粉店", "{street}路湘菜馆", "{owner}家小厨", "{place}口味虾"),
    "5541": ("中石化{street}加油站", "中石油{place}加油站"),
    "5311": ("王府井百货{place}店", "友谊商店{street}店", "通程百货{place}店"),
    "5732": ("苏宁易购{street}店", "国美电器{place}店", "{owner}记电器行"),
    "4111": ("长沙地铁", "长沙公交集团", "长沙城际铁路"),
    "5912": ("老百姓大药房{street}店", "益丰大药房{place}店", "{owner}记药店"),
    "8062": ("{place}人民医院", "湖南省人民医院", "湘雅医院", "{place}中医院"),
    "8220": ("{owner}老师培训学校", "{place}外语培训中心", "{street}路艺术学校"),
    "5977": ("{owner}记化妆品店", "屈臣氏{street}店", "丝芙兰{place}店"),
    "7011": ("{street}路宾馆", "{owner}记酒店", "华天大酒店", "锦江之星{place}店"),
    "4722": ("{place}国际旅行社", "{owner}记旅行社"),
    "5651": ("{owner}记服饰", "{street}路服装店", "海澜之家{place}店"),
}
