"""Reference data for :mod:`batchlake.demo.generator`: genres, media types, staff, geography, words.

Everything here is a plain tuple so that iteration order is fixed and the generator stays
deterministic. Genre names, media-type names, playlist names and the eight employees are those of
the Chinook sample database (MIT licence, (c) 2008-2024 Luis Rocha); the rest is invented.
"""

from __future__ import annotations

# (name, sales/catalogue weight, mean track length in seconds, log-sd of the length, is a TV genre)
# Weights follow the real catalogue's track counts, so Rock > Latin > Metal > Alt & Punk > Jazz.
GENRES: tuple[tuple[str, float, float, float, bool], ...] = (
    ("Rock", 1297, 284, 0.35, False),
    ("Jazz", 130, 292, 0.45, False),
    ("Metal", 374, 310, 0.35, False),
    ("Alternative & Punk", 332, 234, 0.35, False),
    ("Rock And Roll", 12, 135, 0.25, False),
    ("Blues", 81, 270, 0.35, False),
    ("Latin", 579, 233, 0.30, False),
    ("Reggae", 58, 247, 0.30, False),
    ("Pop", 48, 229, 0.25, False),
    ("Soundtrack", 43, 244, 0.45, False),
    ("Bossa Nova", 15, 220, 0.25, False),
    ("Easy Listening", 24, 189, 0.25, False),
    ("Heavy Metal", 28, 297, 0.35, False),
    ("R&B/Soul", 61, 220, 0.30, False),
    ("Electronica/Dance", 30, 303, 0.40, False),
    ("World", 28, 225, 0.35, False),
    ("Hip Hop/Rap", 35, 178, 0.30, False),
    ("Science Fiction", 13, 2626, 0.15, True),
    ("TV Shows", 93, 2145, 0.25, True),
    ("Sci Fi & Fantasy", 26, 2912, 0.12, True),
    ("Drama", 64, 2575, 0.12, True),
    ("Comedy", 17, 1585, 0.25, True),
    ("Alternative", 40, 264, 0.35, False),
    ("Classical", 74, 360, 0.60, False),
    ("Opera", 4, 420, 0.50, False),
)

# (name, bytes per millisecond, share of audio albums); id 3 is the only video type.
MEDIA_TYPES: tuple[tuple[str, float, float], ...] = (
    ("MPEG audio file", 32.5, 0.86),
    ("Protected AAC audio file", 16.6, 0.09),
    ("Protected MPEG-4 video file", 181.7, 0.0),
    ("Purchased AAC audio file", 35.2, 0.02),
    ("AAC audio file", 16.2, 0.03),
)
VIDEO_MEDIA_TYPE_ID = 3

PLAYLISTS: tuple[str, ...] = (
    "Music",
    "Movies",
    "TV Shows",
    "Audiobooks",
    "90’s Music",
    "Audiobooks",
    "Movies",
    "Music",
    "Music Videos",
    "TV Shows",
    "Brazilian Music",
    "Classical",
    "Classical 101 - Deep Cuts",
    "Classical 101 - Next Steps",
    "Classical 101 - The Basics",
    "Grunge",
    "Heavy Metal Classic",
    "On-The-Go 1",
)

_AB = ("Calgary", "AB", "Canada")
EMPLOYEES: tuple[tuple[object, ...], ...] = (
    (1, "Adams", "Andrew", "General Manager", None, "1962-02-18 00:00:00", "2002-08-14 00:00:00",
     "11120 Jasper Ave NW", "Edmonton", "AB", "Canada", "T5K 2N1", "+1 (780) 428-9482",
     "+1 (780) 428-3457", "andrew@chinookcorp.com"),
    (2, "Edwards", "Nancy", "Sales Manager", 1, "1958-12-08 00:00:00", "2002-05-01 00:00:00",
     "825 8 Ave SW", *_AB, "T2P 2T3", "+1 (403) 262-3443", "+1 (403) 262-3322",
     "nancy@chinookcorp.com"),
    (3, "Peacock", "Jane", "Sales Support Agent", 2, "1973-08-29 00:00:00", "2002-04-01 00:00:00",
     "1111 6 Ave SW", *_AB, "T2P 5M5", "+1 (403) 262-3443", "+1 (403) 262-6712",
     "jane@chinookcorp.com"),
    (4, "Park", "Margaret", "Sales Support Agent", 2, "1947-09-19 00:00:00",
     "2003-05-03 00:00:00", "683 10 Street SW", *_AB, "T2P 5G3", "+1 (403) 263-4423",
     "+1 (403) 263-4289", "margaret@chinookcorp.com"),
    (5, "Johnson", "Steve", "Sales Support Agent", 2, "1965-03-03 00:00:00",
     "2003-10-17 00:00:00", "7727B 41 Ave", *_AB, "T3B 1Y7", "1 (780) 836-9987",
     "1 (780) 836-9543", "steve@chinookcorp.com"),
    (6, "Mitchell", "Michael", "IT Manager", 1, "1973-07-01 00:00:00", "2003-10-17 00:00:00",
     "5827 Bowness Road NW", *_AB, "T3B 0C5", "+1 (403) 246-9887", "+1 (403) 246-9899",
     "michael@chinookcorp.com"),
    (7, "King", "Robert", "IT Staff", 6, "1970-05-29 00:00:00", "2004-01-02 00:00:00",
     "590 Columbia Boulevard West", "Lethbridge", "AB", "Canada", "T1K 5N8",
     "+1 (403) 456-9986", "+1 (403) 456-8485", "robert@chinookcorp.com"),
    (8, "Callahan", "Laura", "IT Staff", 6, "1968-01-09 00:00:00", "2004-03-04 00:00:00",
     "923 7 ST NW", "Lethbridge", "AB", "Canada", "T1H 1Y8", "+1 (403) 467-3351",
     "+1 (403) 467-8772", "laura@chinookcorp.com"),
)  # fmt: skip
SUPPORT_AGENTS: tuple[tuple[int, float], ...] = ((3, 0.36), (4, 0.33), (5, 0.31))

# Name groups: (first names, last names, address pattern, streets, company suffix).
# In postal and phone patterns '#' is a random digit and '@' a random capital letter.
NAME_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, tuple[str, ...], str]] = {
    "en": (
        ("James", "Mary", "John", "Emma", "Michael", "Olivia", "David", "Sarah", "Robert",
         "Emily", "Daniel", "Grace", "Thomas", "Chloe", "Mark", "Julia", "Kathy", "Aaron"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Miller", "Harris",
         "Clark", "Lewis", "Walker", "Young", "Hughes", "Murray", "Sullivan", "Gordon"),
        "{n} {s}",
        ("Main Street", "Broadway", "Elm Street", "Oak Avenue", "Park Ave", "King Street",
         "Maple Drive", "High Street", "Church Road", "Lake Shore Blvd", "Pine Street"),
        "Inc.",
    ),
    "fr": (
        ("Camille", "Marc", "Isabelle", "Julien", "Chloé", "François", "Léa", "Hugo",
         "Manon", "Louis", "Élodie", "Wyatt"),
        ("Martin", "Bernard", "Dubois", "Lefebvre", "Mercier", "Girard", "Moreau",
         "Laurent", "Fournier", "Tremblay", "Roux", "Peeters"),
        "{n}, Rue {s}",
        ("Milton", "de la Paix", "Victor Hugo", "Jouvence", "des Lilas", "Pasteur",
         "du Moulin", "Saint-Honoré"),
        "S.A.",
    ),
    "de": (
        ("Hannah", "Niklas", "Leonie", "Fynn", "Lukas", "Anna", "Jonas", "Lea", "Felix",
         "Astrid", "Maximilian", "Sophie"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Köhler", "Zimmermann",
         "Schröder", "Gruber", "Wagner", "Becker", "Hoffmann"),
        "{s} {n}",
        ("Hauptstraße", "Berger Straße", "Tauentzienstraße", "Bahnhofstraße", "Gartenweg",
         "Lindenallee", "Schillerstraße", "Rotenturmstraße"),
        "GmbH",
    ),
    "pt": (
        ("Luís", "Eduardo", "Fernanda", "Alexandre", "Roberto", "João", "Madalena", "Ana",
         "Beatriz", "Rafael", "Mariana", "Tiago"),
        ("Gonçalves", "Martins", "Ramos", "Rocha", "Almeida", "Fernandes", "Sampaio",
         "Silva", "Santos", "Oliveira", "Costa", "Pereira"),
        "Rua {s}, {n}",
        ("Dr. Falcão Filho", "da Assunção", "das Flores", "Augusta", "do Comércio",
         "Sete de Setembro", "da Liberdade", "Direita"),
        "Ltda.",
    ),
    "es": (
        ("Enrique", "Diego", "Luis", "Lucía", "Carmen", "Javier", "Sofía", "Mateo",
         "Valentina", "Pablo", "Camila", "Andrés"),
        ("Muñoz", "Gutiérrez", "Rojas", "García", "López", "Fernández", "Martínez",
         "Sánchez", "Pérez", "Romero", "Torres", "Díaz"),
        "Calle {s} {n}",
        ("San Bernardo", "Mayor", "Lira", "de Alcalá", "Libertad", "del Sol", "Real",
         "Colón"),
        "S.L.",
    ),
    "it": (
        ("Lucas", "Giulia", "Marco", "Francesca", "Alessandro", "Chiara", "Matteo",
         "Sara", "Lorenzo", "Elena"),
        ("Mancini", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo",
         "Ricci", "Marino"),
        "Via {s}, {n}",
        ("Degli Scipioni", "Roma", "Garibaldi", "Dante", "Mazzini", "del Corso", "Verdi"),
        "S.p.A.",
    ),
    "nordic": (
        ("Bjørn", "Kara", "Joakim", "Terhi", "Lars", "Ingrid", "Mikkel", "Freja", "Anders",
         "Sanna", "Emil", "Linnea"),
        ("Hansen", "Nielsen", "Johansson", "Hämäläinen", "Andersson", "Larsen",
         "Virtanen", "Olsen", "Lindqvist", "Berg", "Korhonen", "Jensen"),
        "{s} {n}",
        ("Ullevålsveien", "Sønder Boulevard", "Celsiusgatan", "Porthaninkatu", "Storgatan",
         "Strandvejen", "Kungsgatan", "Mannerheimintie"),
        "AB",
    ),
    "central": (
        ("František", "Helena", "Stanisław", "Ladislav", "Jana", "Piotr", "Eszter", "Tomáš",
         "Katarzyna", "Zoltán", "Petra", "Marek"),
        ("Wichterlová", "Holý", "Wójcik", "Kovács", "Novák", "Kowalski", "Nagy", "Dvořák",
         "Nowak", "Szabó", "Svoboda", "Horváth"),
        "{s} {n}",
        ("Klanova", "Rilská", "Ordynacka", "Erzsébet krt.", "Národní", "Marszałkowska",
         "Andrássy út", "Vinohradská"),
        "s.r.o.",
    ),
    "in": (
        ("Manoj", "Puja", "Arjun", "Priya", "Rahul", "Ananya", "Vikram", "Divya", "Rohan",
         "Kavya"),
        ("Pareek", "Srivastava", "Sharma", "Patel", "Gupta", "Iyer", "Reddy", "Nair",
         "Singh", "Mehta"),
        "{n}, {s}",
        ("Community Centre", "Raj Bhavan Road", "MG Road", "Park Street", "Ring Road",
         "Station Road"),
        "Pvt. Ltd.",
    ),
    "ja": (
        ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Sakura"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
        "{n} {s}",
        ("Ginza", "Shibuya", "Aoyama", "Roppongi", "Ueno", "Asakusa"),
        "K.K.",
    ),
    "nl": (
        ("Johannes", "Daan", "Sanne", "Lotte", "Bram", "Femke", "Ruben", "Eva"),
        ("Van der Berg", "De Jong", "Jansen", "De Vries", "Bakker", "Visser", "Smit", "Mulder"),
        "{s} {n}",
        ("Lijnbaansgracht", "Grétrystraat", "Kalverstraat", "Prinsengracht", "Coolsingel",
         "Damrak"),
        "B.V.",
    ),
}  # fmt: skip

# (country, customer weight, name group, phone pattern, email tld,
#  cities: (city, state or None, postal pattern, phone area code))
City = tuple[str, str | None, str, str]
COUNTRIES: tuple[tuple[str, float, str, str, str, tuple[City, ...]], ...] = (
    ("USA", 13, "en", "+1 ({a}) ###-####", "com", (
        ("New York", "NY", "100##", "212"), ("Mountain View", "CA", "940##", "650"),
        ("Chicago", "IL", "606##", "312"), ("Boston", "MA", "021##", "617"),
        ("Redmond", "WA", "980##", "425"), ("Cupertino", "CA", "950##", "408"),
        ("Seattle", "WA", "981##", "206"), ("Austin", "TX", "787##", "512"),
        ("Orlando", "FL", "328##", "407"), ("Fort Worth", "TX", "761##", "817"),
        ("Reno", "NV", "895##", "775"), ("Madison", "WI", "537##", "608"),
        ("Tucson", "AZ", "857##", "520"), ("Salt Lake City", "UT", "841##", "801"),
        ("Denver", "CO", "802##", "303"), ("Portland", "OR", "972##", "503"))),
    ("Canada", 8, "en", "+1 ({a}) ###-####", "ca", (
        ("Toronto", "ON", "M#@ #@#", "416"), ("Montréal", "QC", "H#@ #@#", "514"),
        ("Vancouver", "BC", "V#@ #@#", "604"), ("Ottawa", "ON", "K#@ #@#", "613"),
        ("Calgary", "AB", "T#@ #@#", "403"), ("Edmonton", "AB", "T#@ #@#", "780"),
        ("Winnipeg", "MB", "R#@ #@#", "204"), ("Halifax", "NS", "B#@ #@#", "902"),
        ("Yellowknife", "NT", "X1A #@#", "867"))),
    ("France", 5, "fr", "+33 0{a} ## ## ## ##", "fr", (
        ("Paris", None, "750##", "1"), ("Lyon", None, "6900#", "4"),
        ("Bordeaux", None, "330##", "5"), ("Dijon", None, "210##", "3"),
        ("Marseille", None, "130##", "4"))),
    ("Brazil", 5, "pt", "+55 ({a}) ####-####", "com.br", (
        ("São Paulo", "SP", "0####-###", "11"), ("Rio de Janeiro", "RJ", "2####-###", "21"),
        ("Brasília", "DF", "7####-###", "61"), ("São José dos Campos", "SP", "122##-###", "12"),
        ("Belo Horizonte", "MG", "3####-###", "31"), ("Porto Alegre", "RS", "9####-###", "51"))),
    ("Germany", 4, "de", "+49 0{a} #######", "de", (
        ("Berlin", None, "10###", "30"), ("Frankfurt", None, "603##", "69"),
        ("Stuttgart", None, "70###", "711"), ("Munich", None, "80###", "89"),
        ("Hamburg", None, "20###", "40"))),
    ("United Kingdom", 3, "en", "+44 0{a} ### ####", "co.uk", (
        ("London", None, "SW# #@@", "20"), ("Edinburgh", None, "EH# #@@", "131"),
        ("Manchester", None, "M# #@@", "161"), ("Birmingham", None, "B# #@@", "121"))),
    ("Portugal", 2, "pt", "+351 ({a}) ###-###", "pt", (
        ("Lisbon", None, "1###-###", "21"), ("Porto", None, "4###-###", "22"))),
    ("India", 2, "in", "+91 0{a} ########", "in", (
        ("Delhi", None, "110###", "11"), ("Bangalore", None, "560###", "80"),
        ("Mumbai", None, "400###", "22"))),
    ("Czech Republic", 2, "central", "+420 {a} #### ####", "cz", (
        ("Prague", None, "1##00", "2"), ("Brno", None, "6##00", "5"))),
    ("Sweden", 1, "nordic", "+46 0{a}-### ## ##", "se", (
        ("Stockholm", None, "11###", "8"), ("Gothenburg", None, "41###", "31"))),
    ("Spain", 1, "es", "+34 {a} ### ###", "es", (
        ("Madrid", None, "280##", "914"), ("Barcelona", None, "080##", "933"))),
    ("Poland", 1, "central", "+48 {a} ### ## ##", "pl", (
        ("Warsaw", None, "0#-###", "22"), ("Kraków", None, "3#-###", "12"))),
    ("Norway", 1, "nordic", "+47 {a} ## ## ##", "no", (
        ("Oslo", None, "0###", "22"), ("Bergen", None, "5###", "55"))),
    ("Netherlands", 1, "nl", "+31 0{a} #######", "nl", (
        ("Amsterdam", "NH", "10## @@", "20"), ("Rotterdam", "ZH", "30## @@", "10"))),
    ("Italy", 1, "it", "+39 0{a} ########", "it", (
        ("Rome", "RM", "001##", "6"), ("Milan", "MI", "201##", "2"))),
    ("Ireland", 1, "en", "+353 0{a} #######", "ie", (
        ("Dublin", "Dublin", "D0# @###", "1"), ("Cork", "Cork", "T12 @###", "21"))),
    ("Hungary", 1, "central", "+36 0{a} ### ####", "hu", (("Budapest", None, "H-1###", "1"),)),
    ("Finland", 1, "nordic", "+358 0{a} ### ####", "fi", (("Helsinki", None, "00###", "9"),)),
    ("Denmark", 1, "nordic", "+45 {a}# ## ## ##", "dk", (("Copenhagen", None, "1###", "3"),)),
    ("Chile", 1, "es", "+56 (0){a} ### ####", "cl", (("Santiago", None, "83#####", "2"),)),
    ("Belgium", 1, "fr", "+32 0{a} ### ## ##", "be", (("Brussels", None, "10#0", "2"),)),
    ("Austria", 1, "de", "+43 0{a} #######", "at", (("Vienna", None, "1###", "1"),)),
    ("Australia", 1, "en", "+61 (0{a}) #### ####", "com.au", (
        ("Sydney", "NSW", "2###", "2"), ("Melbourne", "VIC", "3###", "3"))),
    ("Argentina", 1, "es", "+54 (0){a} ####-####", "com.ar", (
        ("Buenos Aires", None, "1###", "11"),)),
    ("Japan", 0.8, "ja", "+81 {a}-####-####", "jp", (("Tokyo", None, "1##-####", "3"),)),
    ("Mexico", 0.8, "es", "+52 {a} #### ####", "com.mx", (
        ("Mexico City", "CDMX", "0####", "55"),)),
    ("New Zealand", 0.6, "en", "+64 0{a} ### ####", "co.nz", (("Auckland", None, "10##", "9"),)),
    ("South Africa", 0.6, "en", "+27 0{a} ### ####", "co.za", (
        ("Cape Town", "WC", "80##", "21"),)),
)  # fmt: skip

EMAIL_HOSTS: tuple[str, ...] = ("gmail.com", "yahoo.{tld}", "hotmail.com", "outlook.com",
                                "apple.{tld}", "mail.{tld}")  # fmt: skip

# Words for invented artist, album and track names.
ADJECTIVES: tuple[str, ...] = (
    "Black", "Electric", "Silent", "Golden", "Broken", "Wild", "Midnight", "Crimson", "Velvet",
    "Iron", "Lonely", "Burning", "Frozen", "Hollow", "Neon", "Savage", "Blue", "Restless",
    "Hidden", "Distant", "Holy", "Twisted", "Sweet", "Dark", "Bright", "Endless", "Lost",
    "Secret", "Heavy", "Little", "Crazy", "Sacred", "Strange", "Fading", "Rising", "Cold",
)  # fmt: skip
NOUNS: tuple[str, ...] = (
    "Heart", "Fire", "River", "Storm", "Shadow", "Dream", "Road", "Night", "Stone", "Angel",
    "Machine", "Ocean", "Thunder", "Mirror", "Garden", "Ghost", "Highway", "Rain", "Star",
    "Wolf", "Crown", "Desert", "Engine", "Horizon", "Kingdom", "Light", "Moon", "Prophet",
    "Rebel", "Saint", "Sky", "Soul", "Train", "Tiger", "Wind", "Echo", "Island", "City",
)  # fmt: skip
VERBS: tuple[str, ...] = (
    "Chasing", "Breaking", "Burning", "Running From", "Waiting For", "Dancing With",
    "Riding", "Fighting", "Calling", "Crossing", "Feeling", "Holding", "Losing", "Finding",
)  # fmt: skip
CLASSICAL_COMPOSERS: tuple[str, ...] = (
    "Johann Sebastian Bach", "Wolfgang Amadeus Mozart", "Ludwig van Beethoven",
    "Frédéric Chopin", "Pyotr Ilyich Tchaikovsky", "Antonio Vivaldi", "Johannes Brahms",
    "Claude Debussy", "Giuseppe Verdi", "Franz Schubert", "Gustav Mahler", "Edvard Grieg",
)  # fmt: skip
CLASSICAL_FORMS: tuple[str, ...] = (
    "Symphony", "Piano Concerto", "Violin Concerto", "String Quartet", "Sonata", "Suite",
    "Prelude", "Nocturne", "Overture", "Requiem", "Serenade", "Étude",
)  # fmt: skip
KEYS: tuple[str, ...] = (
    "C Major", "D Minor", "E-Flat Major", "G Major", "A Minor", "B-Flat Major", "F Minor",
    "D Major", "E Minor", "A Major",
)  # fmt: skip
MOVEMENTS: tuple[str, ...] = (
    "I. Allegro", "II. Adagio", "III. Scherzo", "IV. Finale", "I. Andante", "II. Largo",
    "III. Presto", "II. Menuetto",
)  # fmt: skip
ENSEMBLES: tuple[str, ...] = (
    "Philharmonic Orchestra", "Chamber Orchestra", "Symphony Orchestra", "String Quartet",
    "Baroque Ensemble", "Opera Chorus",
)  # fmt: skip
EPISODE_WORDS: tuple[str, ...] = (
    "Pilot", "The Return", "Homecoming", "Exodus", "The Long Night", "Crossroads", "Legacy",
    "Revelations", "The Hunt", "Outbreak", "Fallout", "Reunion", "The Deal", "Lockdown",
)  # fmt: skip
